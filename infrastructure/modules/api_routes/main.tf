locals {
  routed_functions = toset([for r in var.routes : r.function])
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  api_id           = var.api_id
  name             = "flux-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]
  jwt_configuration {
    issuer   = var.issuer
    audience = [var.audience]
  }
}

resource "aws_apigatewayv2_integration" "function" {
  for_each         = local.routed_functions
  api_id           = var.api_id
  integration_type = "AWS_PROXY"
  # The live alias: a new version takes traffic when the deploy moves it.
  integration_uri        = var.functions[each.key].alias_invoke
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309:Public routes (health, sign-up, sign-in, token refresh, JWKS) cannot require a token; protected routes use the JWT authorizer.
  for_each           = var.routes
  api_id             = var.api_id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.function[each.value.function].id}"
  authorization_type = each.value.authorized ? "JWT" : "NONE"
  authorizer_id      = each.value.authorized ? aws_apigatewayv2_authorizer.jwt.id : null
}

resource "aws_lambda_permission" "api" {
  for_each      = local.routed_functions
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = var.functions[each.key].name
  qualifier     = "live"
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${var.execution_arn}/*/*"
}
