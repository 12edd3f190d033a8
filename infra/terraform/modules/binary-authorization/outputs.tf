output "attestor_id" {
  description = "Attestor id (projects/P/attestors/NAME), used by CI's gcloud beta container binauthz attestations sign-and-create."
  value       = google_binary_authorization_attestor.this.id
}

output "note_id" {
  description = "Container Analysis note of the attestor."
  value       = google_container_analysis_note.attestor.id
}
