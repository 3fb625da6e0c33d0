variable "name" {
  description = "Name prefix for resources."
  type        = string
}

variable "functions" {
  description = "Per function: memory, timeout, reserved concurrency, the secrets it may read, whether S3 invokes it asynchronously, and extra IAM statements."
  type = map(object({
    memory_mb            = number
    timeout_s            = number
    reserved_concurrency = number
    secrets              = list(string)
    async                = optional(bool, false)
    policy_json          = optional(string)
  }))
}

variable "artifacts_dir" {
  description = "Directory with <function>/bootstrap.zip built by cargo lambda."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the functions run in."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the functions."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key for environment variables, logs and queues."
  type        = string
}

variable "log_retention_days" {
  description = "Function log retention."
  type        = number
}

variable "secret_arns" {
  description = "Secret ARNs by short name (db_app, db_owner, auth_keys, ...)."
  type        = map(string)
}

variable "environment" {
  description = "Environment variables; *_SECRET_ID variables reach only functions allowed to read that secret."
  type        = map(string)
}

variable "extra_policies" {
  description = "Additional IAM policy JSON by function name (for example S3 access)."
  type        = map(string)
  default     = {}
}
