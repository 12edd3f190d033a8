variable "project_id" {
  description = "Project that hosts the buckets."
  type        = string
}

variable "name_prefix" {
  description = "Bucket names are <name_prefix>-files, -backups and -static; they are global, so include the project id."
  type        = string
}

variable "region" {
  description = "Location of the files and static-assets buckets."
  type        = string
}

variable "backups_location" {
  description = "Dual-region location of the backups bucket (e.g. NAM4 = us-central1 + us-east1)."
  type        = string
  default     = "NAM4"
}

variable "kms_key_id" {
  description = "CMEK for the files and static buckets (same region); the Cloud Storage service agent needs encrypter/decrypter on it."
  type        = string
}

variable "backups_kms_key_id" {
  description = "CMEK for the backups bucket; it must be in the bucket's dual-region location (e.g. nam4)."
  type        = string
}

variable "backup_retention_days" {
  description = "Backups older than this are deleted by lifecycle rule. Deletions stay recoverable for 7 days (soft delete) and old versions for noncurrent_version_days; backup writers cannot delete (object creator + viewer)."
  type        = number
}

variable "noncurrent_version_days" {
  description = "Noncurrent object versions are deleted after this many days."
  type        = number
  default     = 30
}

variable "files_object_admins" {
  description = "IAM members (by stable label) that read and write the files bucket (uploads, batch inputs and outputs)."
  type        = map(string)
  default     = {}
}

variable "backups_writers" {
  description = "IAM members (by stable label) that create and read backups (object creator + viewer, no delete)."
  type        = map(string)
  default     = {}
}

variable "static_object_admins" {
  description = "IAM members (by stable label) that publish static assets (CI)."
  type        = map(string)
  default     = {}
}

variable "cdn_fill_service_agent" {
  description = "Cloud CDN fill service agent (service-NUMBER@cloud-cdn-fill.iam.gserviceaccount.com), granted read on the static bucket so it stays private and CDN serves signed URLs/cookies. The agent exists only once a signed URL key was added to the backend bucket (outside Terraform: key material is a secret); null until then."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels on every bucket."
  type        = map(string)
  default     = {}
}
