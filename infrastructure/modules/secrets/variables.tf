variable "name" {
  description = "Name prefix for resources."
  type        = string
}
