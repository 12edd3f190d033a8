variable "project_id" {
  description = "Project that hosts one environment of Bro AI."
  type        = string
}

variable "services" {
  description = "APIs to enable, in addition to the base set every Bro AI environment needs."
  type        = list(string)
  default     = []
}
