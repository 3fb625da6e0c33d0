variable "name" {
  description = "Name prefix for resources."
  type        = string
}

variable "allowed_origins" {
  description = "CORS origins (the same list the functions get)."
  type        = list(string)
}

variable "throttle_rate" {
  description = "Stage steady-state rate limit (requests per second)."
  type        = number
}

variable "throttle_burst" {
  description = "Stage burst limit."
  type        = number
}

variable "log_retention_days" {
  description = "Access log retention."
  type        = number
}

variable "kms_key_arn" {
  description = "KMS key for the access logs."
  type        = string
}
