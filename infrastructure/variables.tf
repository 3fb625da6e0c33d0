variable "environment" {
  description = "dev, staging or prod."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_cidr" {
  description = "CIDR of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones for the private subnets (2 or more)."
  type        = number
  default     = 2
}

variable "artifacts_dir" {
  description = "Directory holding <function>/bootstrap.zip from `cargo lambda build --release --arm64 --output-format zip`."
  type        = string
  default     = "../target/lambda"
}

variable "allowed_origins" {
  description = "Browser origins allowed by CORS (API and uploads bucket)."
  type        = list(string)
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_allocated_storage" {
  description = "RDS storage in GiB."
  type        = number
  default     = 20
}

variable "db_multi_az" {
  description = "Run RDS Multi-AZ."
  type        = bool
  default     = false
}

variable "db_deletion_protection" {
  description = "Protect the database from deletion (and take a final snapshot)."
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "Automated backup retention in days."
  type        = number
  default     = 7
}

variable "log_retention_days" {
  description = "Retention of function, API and VPC flow logs."
  type        = number
  default     = 365
}

variable "upload_retention_days" {
  description = "Days raw uploads are kept before S3 expires them."
  type        = number
  default     = 30
}

variable "api_throttle_rate" {
  description = "Steady-state requests per second for the API stage."
  type        = number
  default     = 100
}

variable "api_throttle_burst" {
  description = "Burst requests for the API stage."
  type        = number
  default     = 200
}

variable "alarm_email" {
  description = "Email subscribed to alarms (empty for none)."
  type        = string
  default     = ""
}

variable "log_level" {
  description = "RUST_LOG for the functions."
  type        = string
  default     = "info"
}

variable "secrets_recovery_window_days" {
  description = "Days a deleted secret can be restored (0 in disposable environments)."
  type        = number
  default     = 30
}

variable "db_app_password_version" {
  description = "Bump to draw a new app database password (see README: rotation)."
  type        = number
  default     = 1
}
