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
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
  # Alarms publish to the encrypted SNS topic.
  statement {
    sid       = "CloudWatchAlarms"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
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

# The application role's credentials; `migrate` sets this password on
# flux_app. The password is drawn by Secrets Manager (an ephemeral value)
# and written write-only: it never enters Terraform's state or plan. Bump
# `db_app_password_version` to draw a new one (see the README's rotation).
ephemeral "aws_secretsmanager_random_password" "db_app" {
  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "db_app" {
  #checkov:skip=CKV2_AWS_57:Rotated by the deploy (a new write-only version, then migrate), not by a rotation Lambda; see infrastructure/README.md.
  name                    = "${var.name}/db-app"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days
}

resource "aws_secretsmanager_secret_version" "db_app" {
  secret_id = aws_secretsmanager_secret.db_app.id
  secret_string_wo = jsonencode({
    username = "flux_app"
    password = ephemeral.aws_secretsmanager_random_password.db_app.random_password
  })
  secret_string_wo_version = var.db_app_password_version
}

# The access-token signing keys and the refresh-token successor key. Never
# made by Terraform: `migrate` generates them inside AWS the first time (and
# on rotation) and writes the public halves to `auth_public_keys`, which is
# all the verifiers (data-upload, sales) may read.
resource "aws_secretsmanager_secret" "auth_keys" {
  #checkov:skip=CKV2_AWS_57:Signing keys rotate by publishing a new kid through migrate (see infrastructure/README.md), not by a rotation Lambda.
  name                    = "${var.name}/auth-keys"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days
}

resource "aws_secretsmanager_secret" "auth_public_keys" {
  #checkov:skip=CKV2_AWS_57:Public keys, rewritten by migrate with each rotation of the signing keys.
  name                    = "${var.name}/auth-public-keys"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days
}
