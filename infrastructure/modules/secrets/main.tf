data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_111:A KMS key policy: "*" means this key only, and the account root statement is the standard delegation to IAM.
  #checkov:skip=CKV_AWS_356:A KMS key policy: "*" means this key only.
  #checkov:skip=CKV_AWS_109:A KMS key policy: the account root statement is the standard delegation to IAM.
  statement {
    sid       = "AccountAdmin"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.region}.amazonaws.com"]
    }
  }
}

# One customer-managed key for the project's data at rest: secrets, logs,
# the uploads bucket, queues and topics.
resource "aws_kms_key" "this" {
  description         = "${var.name} data at rest"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

# The application role's credentials; `migrate` sets this password on flux_app.
resource "random_password" "db_app" {
  length  = 40
  special = false
}

resource "aws_secretsmanager_secret" "db_app" {
  #checkov:skip=CKV2_AWS_57:Rotated by re-running the deploy with a new random_password (migrate applies it); no rotation Lambda.
  name       = "${var.name}/db-app"
  kms_key_id = aws_kms_key.this.arn
}

resource "aws_secretsmanager_secret_version" "db_app" {
  secret_id     = aws_secretsmanager_secret.db_app.id
  secret_string = jsonencode({ username = "flux_app", password = random_password.db_app.result })
}

# Access-token signing key and the key that derives refresh-token successors.
# To rotate: add a key, make it active, keep the old one until its tokens expire.
resource "tls_private_key" "signing" {
  algorithm = "RSA"
  rsa_bits  = 2048
}

resource "random_password" "refresh_token_key" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "auth_keys" {
  #checkov:skip=CKV2_AWS_57:Signing keys rotate by publishing a new kid (see infrastructure/README.md), not by a rotation Lambda.
  name       = "${var.name}/auth-keys"
  kms_key_id = aws_kms_key.this.arn
}

locals {
  signing_kid = substr(sha256(tls_private_key.signing.public_key_pem), 0, 16)
}

resource "aws_secretsmanager_secret_version" "auth_keys" {
  secret_id = aws_secretsmanager_secret.auth_keys.id
  secret_string = jsonencode({
    active_kid        = local.signing_kid
    keys              = [{ kid = local.signing_kid, private_key_pem = tls_private_key.signing.private_key_pem_pkcs8 }]
    refresh_token_key = random_password.refresh_token_key.result
  })
}
