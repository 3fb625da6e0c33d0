locals {
  # Which environment variable names which secret.
  secret_env = {
    DB_APP_SECRET_ID    = "db_app"
    DB_OWNER_SECRET_ID  = "db_owner"
    AUTH_KEYS_SECRET_ID = "auth_keys"
  }
  async_functions = { for k, f in var.functions : k => f if f.async }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_cloudwatch_log_group" "function" {
  for_each          = var.functions
  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# One role per function, allowed exactly what that function does.
resource "aws_iam_role" "function" {
  for_each           = var.functions
  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy_attachment" "vpc" {
  for_each   = var.functions
  role       = aws_iam_role.function[each.key].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

data "aws_iam_policy_document" "function" {
  for_each = var.functions

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  statement {
    sid       = "ReadOwnSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for s in each.value.secrets : var.secret_arns[s]]
  }

  statement {
    sid       = "DecryptSecretsAndEnvironment"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }

  dynamic "statement" {
    for_each = each.value.async ? [1] : []
    content {
      sid       = "SendToDeadLetterQueue"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.dlq[each.key].arn]
    }
  }

  source_policy_documents = contains(keys(var.extra_policies), each.key) ? [var.extra_policies[each.key]] : []
}

resource "aws_iam_role_policy" "function" {
  for_each = var.functions
  name     = "least-privilege"
  role     = aws_iam_role.function[each.key].id
  policy   = data.aws_iam_policy_document.function[each.key].json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_272:Artifacts are built and deployed by our own pipeline from a pinned commit; no code-signing profile yet.
  #checkov:skip=CKV_AWS_116:Synchronous functions (API, migrate) have no asynchronous invocations to dead-letter; async ones get an on-failure SQS destination below.
  for_each      = var.functions
  function_name = "${var.name}-${each.key}"
  role          = aws_iam_role.function[each.key].arn

  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = "${var.artifacts_dir}/${each.key}/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.artifacts_dir}/${each.key}/bootstrap.zip")

  memory_size                    = each.value.memory_mb
  timeout                        = each.value.timeout_s
  reserved_concurrent_executions = each.value.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = merge(
      { for k, v in var.environment : k => v if !contains(keys(local.secret_env), k) },
      { for k, s in local.secret_env : k => var.environment[k] if contains(each.value.secrets, s) },
      each.value.environment,
    )
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy_attachment.vpc]
}

# Asynchronous invocations (S3 events) that still fail after Lambda's
# retries land here instead of vanishing.
resource "aws_sqs_queue" "dlq" {
  for_each                  = local.async_functions
  name                      = "${var.name}-${each.key}-dlq"
  message_retention_seconds = 1209600
  kms_master_key_id         = var.kms_key_arn
}

resource "aws_lambda_function_event_invoke_config" "async" {
  for_each                     = local.async_functions
  function_name                = aws_lambda_function.this[each.key].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq[each.key].arn
    }
  }
}
