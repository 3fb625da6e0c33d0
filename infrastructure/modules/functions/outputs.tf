output "functions" {
  description = "Per function: name, arn and invoke_arn."
  value = {
    for k, f in aws_lambda_function.this : k => {
      name       = f.function_name
      arn        = f.arn
      invoke_arn = f.invoke_arn
    }
  }
}

output "dlq_names" {
  description = "Dead-letter queues of asynchronously invoked functions."
  value       = [for q in aws_sqs_queue.dlq : q.name]
}
