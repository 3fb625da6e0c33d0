locals {
  # Which environment variable names which secret.
  secret_env = {
    DB_APP_SECRET_ID           = "db_app"
    DB_OWNER_SECRET_ID         = "db_owner"
    AUTH_KEYS_SECRET_ID        = "auth_keys"
    AUTH_PUBLIC_KEYS_SECRET_ID = "auth_public_keys"
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

data "aws_iam_policy_document" "function" {
  #checkov:skip=CKV_AWS_111:ENI management and X-Ray writes have no resource-level scoping in AWS; they are the actions Lambda needs in a VPC and for tracing, nothing more.
  #checkov:skip=CKV_AWS_356:As above: these actions only accept "*".
  for_each = var.functions

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  # What Lambda needs to run a function in the VPC (instead of the managed
  # AWSLambdaVPCAccessExecutionRole, which also grants logs on everything).
  statement {
    sid = "NetworkInterfaces"
    actions = [
      "ec2:CreateNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets",
      "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "WriteTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = length(each.value.secrets) > 0 ? [1] : []
    content {
      sid       = "ReadOwnSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [for s in each.value.secrets : var.secret_arns[s]]
    }
  }

  # Secrets, the environment and (for async functions) the on-failure
  # queue are encrypted with the project key.
  statement {
    sid       = "UseTheProjectKey"
    actions   = each.value.async ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }

  dynamic "statement" {
    for_each = each.value.async ? [1] : []
    content {
      sid       = "SendToTheFailureQueue"
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
  #checkov:skip=CKV_AWS_272:Artifacts are built once by our own pipeline from a pinned commit and promoted by digest; no code-signing profile yet.
  #checkov:skip=CKV_AWS_116:Synchronous functions (API, migrate) have no asynchronous invocations to dead-letter; async ones get an on-failure SQS destination below.
  for_each      = var.functions
  function_name = "${var.name}-${each.key}"
  role          = aws_iam_role.function[each.key].arn

  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = "${var.artifacts_dir}/${each.key}/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.artifacts_dir}/${each.key}/bootstrap.zip")
  # Every deploy publishes a version; traffic reaches it only when the
  # deploy moves the `live` alias, after migrations succeeded.
  publish = true

  memory_size                    = each.value.memory_mb
  timeout                        = each.value.timeout_s
  reserved_concurrent_executions = each.value.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = merge(
      { for k, v in var.environment : k => v if !contains(keys(local.secret_env), k) && contains(each.value.variables, k) },
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

  depends_on = [aws_iam_role_policy.function]
}

# What API Gateway and S3 invoke. Created on the first version; from then on
# only the deploy moves it (after migrate), so Terraform leaves it be.
resource "aws_lambda_alias" "live" {
  for_each         = var.functions
  name             = "live"
  function_name    = aws_lambda_function.this[each.key].function_name
  function_version = aws_lambda_function.this[each.key].version

  lifecycle {
    ignore_changes = [function_version]
  }
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
  qualifier                    = aws_lambda_alias.live[each.key].name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq[each.key].arn
    }
  }
}
