variable "name" {
  description = "Name prefix for resources."
  type        = string
}

variable "allowed_origins" {
  description = "Browser origins allowed to PUT uploads (CORS)."
  type        = list(string)
}

variable "upload_retention_days" {
  description = "Days before raw uploads expire."
  type        = number
}

variable "kms_key_arn" {
  description = "KMS key for server-side encryption."
  type        = string
}

variable "ingest_function_arn" {
  description = "csv-ingest's ARN, notified of every new upload; null until that function exists."
  type        = string
  default     = null
}
