output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "Private subnets, one per availability zone."
  value       = aws_subnet.private[*].id
}

output "lambda_security_group_id" {
  description = "Security group of the functions."
  value       = aws_security_group.lambda.id
}

output "proxy_security_group_id" {
  description = "Security group of RDS Proxy."
  value       = aws_security_group.proxy.id
}

output "db_security_group_id" {
  description = "Security group of the RDS instance."
  value       = aws_security_group.db.id
}
