variable "bucket_name" {
  description = "Name of the uploads bucket."
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

variable "ingest_function_name" {
  description = "csv-ingest's function name, notified of every new upload."
  type        = string
}

variable "ingest_alias_arn" {
  description = "ARN of csv-ingest's live alias, which S3 invokes."
  type        = string
}
