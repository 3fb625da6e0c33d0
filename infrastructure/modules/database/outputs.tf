output "proxy_endpoint" {
  description = "Where the functions connect (TLS, certificate from a public CA)."
  value       = aws_db_proxy.this.endpoint
}

output "db_name" {
  description = "Database name."
  value       = local.db_name
}

output "master_secret_arn" {
  description = "RDS-managed secret of the owner role (migrations)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "instance_id" {
  description = "RDS instance identifier (alarms)."
  value       = aws_db_instance.this.identifier
}
