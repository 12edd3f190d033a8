output "repository_id" {
  description = "Repository id."
  value       = google_artifact_registry_repository.this.id
}

output "repository_url" {
  description = "Image prefix, REGION-docker.pkg.dev/PROJECT/REPOSITORY (deploy/ image names)."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.this.repository_id}"
}
