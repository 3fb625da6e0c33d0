output "route_keys" {
  description = "The routes wired."
  value       = keys(aws_apigatewayv2_route.this)
}
