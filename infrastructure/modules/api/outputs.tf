output "id" {
  description = "API id."
  value       = aws_apigatewayv2_api.this.id
}

output "endpoint" {
  description = "Base URL; also the access tokens' issuer."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "execution_arn" {
  description = "Execution ARN, for Lambda permissions."
  value       = aws_apigatewayv2_api.this.execution_arn
}
