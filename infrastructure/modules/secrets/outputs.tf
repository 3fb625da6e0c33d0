output "kms_key_arn" {
  description = "Customer-managed KMS key for data at rest."
  value       = aws_kms_key.this.arn
}

output "db_app_secret_arn" {
  description = "Secret with the app role's {username, password}."
  value       = aws_secretsmanager_secret.db_app.arn
}

output "auth_keys_secret_arn" {
  description = "Secret with the token signing keys (auth and migrate only), written by migrate."
  value       = aws_secretsmanager_secret.auth_keys.arn
}

output "auth_public_keys_secret_arn" {
  description = "Secret with the public keys that verify access tokens, written by migrate."
  value       = aws_secretsmanager_secret.auth_public_keys.arn
}
