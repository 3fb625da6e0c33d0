variable "name" {
  description = "Name prefix for resources."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the instance and the proxy."
  type        = list(string)
}

variable "db_security_group_id" {
  description = "Security group of the instance."
  type        = string
}

variable "proxy_security_group_id" {
  description = "Security group of RDS Proxy."
  type        = string
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "allocated_storage" {
  description = "Storage in GiB."
  type        = number
}

variable "multi_az" {
  description = "Multi-AZ deployment."
  type        = bool
}

variable "deletion_protection" {
  description = "Deletion protection and a final snapshot."
  type        = bool
}

variable "backup_retention_days" {
  description = "Automated backup retention."
  type        = number
}

variable "app_secret_arn" {
  description = "Secret with the app role's credentials, for the proxy."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for storage, Performance Insights and logs."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the exported PostgreSQL logs."
  type        = number
}
