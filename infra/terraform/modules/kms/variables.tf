variable "project_id" {
  description = "Project that hosts the key ring."
  type        = string
}

variable "location" {
  description = "Key ring location; it must match the location of the data it protects (region, dual-region such as nam4, or multi-region)."
  type        = string
}

variable "key_ring_name" {
  description = "Key ring name. Key rings cannot be deleted: pick a name once per environment and location."
  type        = string
}

variable "keys" {
  description = "Keys by name. Symmetric keys rotate every rotation_period (at most 90 days); ASYMMETRIC_SIGN keys cannot rotate automatically. encrypters_decrypters, signers and viewers map a stable label to an IAM member (labels are for_each keys, so they must be known at plan time even when the member is not)."
  type = map(object({
    purpose               = optional(string, "ENCRYPT_DECRYPT")
    algorithm             = optional(string, "GOOGLE_SYMMETRIC_ENCRYPTION")
    protection_level      = optional(string, "SOFTWARE")
    rotation_period       = optional(string, "7776000s")
    encrypters_decrypters = optional(map(string), {})
    signers               = optional(map(string), {})
    viewers               = optional(map(string), {})
  }))

  validation {
    condition = alltrue([
      for k in values(var.keys) : k.purpose != "ENCRYPT_DECRYPT" || tonumber(trimsuffix(k.rotation_period, "s")) <= 7776000
    ])
    error_message = "Symmetric keys must rotate at least every 90 days (7776000s)."
  }
}

variable "labels" {
  description = "Labels applied to every key."
  type        = map(string)
  default     = {}
}
