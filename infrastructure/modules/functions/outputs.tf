output "functions" {
  description = "Per function: name, arn, the live alias's arn and invoke_arn, and the version this apply published."
  value = {
    for k, f in aws_lambda_function.this : k => {
      name          = f.function_name
      arn           = f.arn
      alias_arn     = aws_lambda_alias.live[k].arn
      alias_invoke  = aws_lambda_alias.live[k].invoke_arn
      invoke_arn    = f.invoke_arn
      published     = f.version
      role_name     = aws_iam_role.function[k].name
      log_group_arn = aws_cloudwatch_log_group.function[k].arn
      failure_queue = try(aws_sqs_queue.dlq[k].arn, null)
    }
  }
}

output "dlq_names" {
  description = "Dead-letter queues of asynchronously invoked functions."
  value       = [for q in aws_sqs_queue.dlq : q.name]
}
