variable "name" {
  description = "Name prefix for resources."
  type        = string
}

variable "recovery_window_days" {
  description = "Days a deleted secret can be restored (0 deletes at once, for disposable environments)."
  type        = number
  default     = 30
}

variable "db_app_password_version" {
  description = "Bump to draw a new app database password (rotation)."
  type        = number
  default     = 1
}
