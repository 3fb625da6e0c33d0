variable "name" {
  description = "Name prefix for resources."
  type        = string
}

variable "alarm_email" {
  description = "Email subscribed to the alarm topic (empty for none)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for the topic."
  type        = string
}

variable "function_names" {
  description = "Lambda functions to watch."
  type        = list(string)
}

variable "dlq_names" {
  description = "Dead-letter queues to watch."
  type        = list(string)
}

variable "db_instance_id" {
  description = "RDS instance to watch."
  type        = string
}

variable "api_id" {
  description = "HTTP API to watch."
  type        = string
}

variable "db_max_connections_alarm" {
  description = "Connections that count as too many."
  type        = number
  default     = 80
}
