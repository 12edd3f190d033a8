output "bucket_names" {
  description = "Bucket names by purpose: files, backups, static."
  value       = { for k, b in google_storage_bucket.this : k => b.name }
}

output "bucket_urls" {
  description = "gs:// URLs by purpose (BRO_BLOB_URL, backup targets)."
  value       = { for k, b in google_storage_bucket.this : k => b.url }
}

output "static_backend_bucket_id" {
  description = "Backend bucket serving static assets through Cloud CDN."
  value       = google_compute_backend_bucket.static.id
}

output "static_backend_bucket_name" {
  description = "Name of the backend bucket (signed URL keys are added to it outside Terraform)."
  value       = google_compute_backend_bucket.static.name
}
