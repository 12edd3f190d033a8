output "key_ring_id" {
  description = "Key ring id."
  value       = google_kms_key_ring.this.id
}

output "key_ids" {
  description = "Key ids by name, available once the IAM grants exist (services fail to use a key they cannot reach)."
  value       = { for k, v in google_kms_crypto_key.this : k => v.id }
  depends_on  = [google_kms_crypto_key_iam_member.this]
}

output "symmetric_key_names" {
  description = "Names of the keys that rotate automatically."
  value       = keys(local.symmetric)
}
