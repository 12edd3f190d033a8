variable "project_id" {
  description = "Project that hosts the repository."
  type        = string
}

variable "region" {
  description = "Repository location (same region as the cluster keeps pulls free and fast)."
  type        = string
}

variable "repository_id" {
  description = "Docker repository id."
  type        = string
  default     = "bro-ai"
}

variable "kms_key_id" {
  description = "CMEK for stored images; the Artifact Registry service agent needs encrypter/decrypter on it."
  type        = string
}

variable "keep_recent_versions" {
  description = "Cleanup keeps at least this many most recent versions of each image, whatever their age."
  type        = number
  default     = 20
}

variable "delete_untagged_after" {
  description = "Untagged versions older than this (seconds, e.g. 1209600s = 14 days) are deleted."
  type        = string
  default     = "1209600s"
}

variable "readers" {
  description = "IAM members (by stable label) that pull images (GKE node service account)."
  type        = map(string)
  default     = {}
}

variable "writers" {
  description = "IAM members (by stable label) that push images (CI through Workload Identity Federation)."
  type        = map(string)
  default     = {}
}

variable "labels" {
  description = "Labels on the repository."
  type        = map(string)
  default     = {}
}
