locals {
  name = "flux-${var.environment}"
  # Known before the bucket exists, so the functions' policies can name it
  # without waiting for the storage module (which waits for csv-ingest).
  uploads_bucket = "${local.name}-uploads-${data.aws_caller_identity.current.account_id}"
  uploads_arn    = "arn:aws:s3:::${local.uploads_bucket}"
}

data "aws_caller_identity" "current" {}

module "network" {
  source             = "./modules/network"
  name               = local.name
  cidr               = var.vpc_cidr
  az_count           = var.az_count
  log_retention_days = var.log_retention_days
}

module "secrets" {
  source                  = "./modules/secrets"
  name                    = local.name
  recovery_window_days    = var.secrets_recovery_window_days
  db_app_password_version = var.db_app_password_version
}

module "database" {
  source                  = "./modules/database"
  name                    = local.name
  subnet_ids              = module.network.private_subnet_ids
  db_security_group_id    = module.network.db_security_group_id
  proxy_security_group_id = module.network.proxy_security_group_id
  instance_class          = var.db_instance_class
  allocated_storage       = var.db_allocated_storage
  multi_az                = var.db_multi_az
  deletion_protection     = var.db_deletion_protection
  backup_retention_days   = var.db_backup_retention_days
  app_secret_arn          = module.secrets.db_app_secret_arn
  kms_key_arn             = module.secrets.kms_key_arn
  log_retention_days      = var.log_retention_days
}

module "storage" {
  source                = "./modules/storage"
  bucket_name           = local.uploads_bucket
  allowed_origins       = var.allowed_origins
  upload_retention_days = var.upload_retention_days
  kms_key_arn           = module.secrets.kms_key_arn
  ingest_function_name  = module.functions.functions["csv-ingest"].name
  ingest_alias_arn      = module.functions.functions["csv-ingest"].alias_arn
}

# data-upload signs PUTs of files under uploads/ and deletes them when an
# upload is undone; csv-ingest reads them. Both use the bucket's key.
data "aws_iam_policy_document" "data_upload" {
  statement {
    sid       = "SignUploadPutsAndUndo"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.uploads_arn}/uploads/*"]
  }
  statement {
    sid       = "EncryptUploads"
    actions   = ["kms:GenerateDataKey"]
    resources = [module.secrets.kms_key_arn]
  }
}

data "aws_iam_policy_document" "csv_ingest" {
  statement {
    sid       = "ReadUploads"
    actions   = ["s3:GetObject"]
    resources = ["${local.uploads_arn}/uploads/*"]
  }
}

# migrate creates the token signing keys inside AWS (and rotates them),
# publishes their public halves for the verifiers, and rotates the app's
# database password (infrastructure/README.md "Rotation").
data "aws_iam_policy_document" "migrate" {
  statement {
    sid     = "WriteRotatedSecrets"
    actions = ["secretsmanager:PutSecretValue"]
    resources = [
      module.secrets.auth_keys_secret_arn,
      module.secrets.auth_public_keys_secret_arn,
      module.secrets.db_app_secret_arn,
    ]
  }
  statement {
    sid       = "EncryptTokenKeys"
    actions   = ["kms:GenerateDataKey"]
    resources = [module.secrets.kms_key_arn]
  }
}

# The API exists before the functions so that they can name its URL as the
# token issuer; its routes are added once the functions exist.
module "api" {
  source             = "./modules/api"
  name               = local.name
  allowed_origins    = var.allowed_origins
  throttle_rate      = var.api_throttle_rate
  throttle_burst     = var.api_throttle_burst
  log_retention_days = var.log_retention_days
  kms_key_arn        = module.secrets.kms_key_arn
}

module "functions" {
  source             = "./modules/functions"
  name               = local.name
  functions          = local.functions
  artifacts_dir      = var.artifacts_dir
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.lambda_security_group_id]
  kms_key_arn        = module.secrets.kms_key_arn
  log_retention_days = var.log_retention_days
  secret_arns = {
    db_app           = module.secrets.db_app_secret_arn
    db_owner         = module.database.master_secret_arn
    auth_keys        = module.secrets.auth_keys_secret_arn
    auth_public_keys = module.secrets.auth_public_keys_secret_arn
  }
  extra_policies = {
    "data-upload" = data.aws_iam_policy_document.data_upload.json
    "csv-ingest"  = data.aws_iam_policy_document.csv_ingest.json
    migrate       = data.aws_iam_policy_document.migrate.json
  }
  environment = {
    RUST_LOG                   = var.log_level
    SECRETS_SOURCE             = "aws"
    DB_HOST                    = module.database.proxy_endpoint
    DB_PORT                    = "5432"
    DB_NAME                    = module.database.db_name
    DB_TLS                     = "verify"
    DB_APP_SECRET_ID           = module.secrets.db_app_secret_arn
    DB_OWNER_SECRET_ID         = module.database.master_secret_arn
    AUTH_KEYS_SECRET_ID        = module.secrets.auth_keys_secret_arn
    AUTH_PUBLIC_KEYS_SECRET_ID = module.secrets.auth_public_keys_secret_arn
    AUTH_ISSUER                = module.api.endpoint
    AUTH_AUDIENCE              = "flux-api"
    ALLOWED_ORIGINS            = join(",", var.allowed_origins)
    UPLOADS_BUCKET             = local.uploads_bucket
  }
}

module "api_routes" {
  source        = "./modules/api_routes"
  api_id        = module.api.id
  execution_arn = module.api.execution_arn
  issuer        = module.api.endpoint
  audience      = "flux-api"
  routes        = local.routes
  functions     = module.functions.functions
}

module "alarms" {
  source         = "./modules/alarms"
  name           = local.name
  alarm_email    = var.alarm_email
  kms_key_arn    = module.secrets.kms_key_arn
  function_names = [for f in module.functions.functions : f.name]
  dlq_names      = module.functions.dlq_names
  db_instance_id = module.database.instance_id
  api_id         = module.api.id
}
