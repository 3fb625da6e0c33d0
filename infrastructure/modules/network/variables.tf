variable "name" {
  description = "Name prefix for resources."
  type        = string
}

variable "cidr" {
  description = "VPC CIDR block."
  type        = string
}

variable "az_count" {
  description = "Number of availability zones (2 or more)."
  type        = number
  validation {
    condition     = var.az_count >= 2
    error_message = "Use at least two availability zones."
  }
}

variable "log_retention_days" {
  description = "Retention of the VPC flow logs."
  type        = number
}
