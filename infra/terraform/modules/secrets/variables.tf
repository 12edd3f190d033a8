variable "project_id" {
  description = "Project that hosts the secrets."
  type        = string
}

variable "project_number" {
  description = "Project number; the Secret Manager service agent is service-NUMBER@gcp-sa-secretmanager.iam.gserviceaccount.com."
  type        = string
}

variable "region" {
  description = "Single replica location of every secret (user-managed replication, so CMEK stays regional)."
  type        = string
}

variable "kms_key_id" {
  description = "CMEK for secret payloads, in the same region; the Secret Manager service agent needs encrypter/decrypter on it."
  type        = string
}

variable "rotation_topic_id" {
  description = "Topic (projects/P/topics/T) that receives the rotation notifications; the Secret Manager service agent is granted publisher on it."
  type        = string
}

variable "secrets" {
  description = "Secrets by id. Terraform creates the containers, IAM and rotation schedule only; values are added as versions outside Terraform. rotate = false for values that never rotate (e.g. a DSN)."
  type = map(object({
    rotate          = optional(bool, true)
    rotation_period = optional(string, "7776000s")
    accessors       = optional(map(string), {})
  }))
}

variable "labels" {
  description = "Labels on every secret."
  type        = map(string)
  default     = {}
}
