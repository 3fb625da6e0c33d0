variable "name" {
  description = "Name prefix for resources."
  type        = string
}

variable "functions" {
  description = "Per function: memory, timeout, reserved concurrency, the secrets it may read, the shared variables it reads, its own variables, and whether S3 invokes it asynchronously."
  type = map(object({
    memory_mb            = number
    timeout_s            = number
    reserved_concurrency = number
    secrets              = list(string)
    variables            = list(string)
    environment          = optional(map(string), {})
    async                = optional(bool, false)
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
  description = "Secret ARNs by short name (db_app, db_owner, auth_keys, auth_public_keys)."
  type        = map(string)
}

variable "environment" {
  description = "Shared variables: a function gets those its `variables` names; *_SECRET_ID variables reach only functions allowed to read that secret."
  type        = map(string)
}

variable "extra_policies" {
  description = "Additional IAM policy JSON by function name (S3, KMS, secrets it writes)."
  type        = map(string)
  default     = {}
}
