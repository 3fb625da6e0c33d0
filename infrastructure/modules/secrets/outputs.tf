output "kms_key_arn" {
  description = "Customer-managed KMS key for data at rest."
  value       = aws_kms_key.this.arn
}

output "db_app_secret_arn" {
  description = "Secret with the app role's {username, password}."
  value       = aws_secretsmanager_secret.db_app.arn
}

output "auth_keys_secret_arn" {
  description = "Secret with the token signing keys (auth function only)."
  value       = aws_secretsmanager_secret.auth_keys.arn
}

output "auth_public_keys_json" {
  description = "Public keys for verifiers, as AUTH_PUBLIC_KEYS (not secret)."
  value       = jsonencode([{ kid = local.signing_kid, public_key_pem = tls_private_key.signing.public_key_pem }])
}
