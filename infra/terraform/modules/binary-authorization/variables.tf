variable "project_id" {
  description = "Project whose singleton Binary Authorization policy this sets."
  type        = string
}

variable "attestor_name" {
  description = "Attestor that CI uses after build, scan and tests pass."
  type        = string
  default     = "bro-ai-built-by-ci"
}

variable "signing_key_id" {
  description = "KMS asymmetric signing key (EC_SIGN_P256_SHA256) whose first version verifies attestations."
  type        = string
}

variable "attestors" {
  description = "IAM members (by stable label) that create attestations (CI): note attacher, attestor viewer and occurrence editor. They also need signer on the KMS key (kms module)."
  type        = map(string)
  default     = {}
}

variable "allowlisted_image_patterns" {
  description = "Images admitted without attestation (third-party controllers such as Argo CD). Keep this list short and pinned; Google's GKE system images are exempt by the global policy already."
  type        = list(string)
  default     = []
}

variable "enforcement_mode" {
  description = "ENFORCED_BLOCK_AND_AUDIT_LOG, or DRYRUN_AUDIT_LOG_ONLY while onboarding."
  type        = string
  default     = "ENFORCED_BLOCK_AND_AUDIT_LOG"

  validation {
    condition     = contains(["ENFORCED_BLOCK_AND_AUDIT_LOG", "DRYRUN_AUDIT_LOG_ONLY"], var.enforcement_mode)
    error_message = "enforcement_mode must be ENFORCED_BLOCK_AND_AUDIT_LOG or DRYRUN_AUDIT_LOG_ONLY."
  }
}
