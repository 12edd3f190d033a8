data "google_kms_crypto_key_version" "signing" {
  crypto_key = var.signing_key_id
  version    = 1
}

resource "google_container_analysis_note" "attestor" {
  project = var.project_id
  name    = "${var.attestor_name}-note"

  attestation_authority {
    hint {
      human_readable_name = "Built, scanned and tested by Bro AI CI"
    }
  }
}

resource "google_binary_authorization_attestor" "this" {
  project = var.project_id
  name    = var.attestor_name

  attestation_authority_note {
    note_reference = google_container_analysis_note.attestor.name

    public_keys {
      id = data.google_kms_crypto_key_version.signing.id
      pkix_public_key {
        public_key_pem      = data.google_kms_crypto_key_version.signing.public_key[0].pem
        signature_algorithm = data.google_kms_crypto_key_version.signing.public_key[0].algorithm
      }
    }
  }
}

resource "google_container_analysis_note_iam_member" "attachers" {
  for_each = var.attestors

  project = var.project_id
  note    = google_container_analysis_note.attestor.name
  role    = "roles/containeranalysis.notes.attacher"
  member  = each.value
}

resource "google_binary_authorization_attestor_iam_member" "viewers" {
  for_each = var.attestors

  project  = var.project_id
  attestor = google_binary_authorization_attestor.this.name
  role     = "roles/binaryauthorization.attestorsViewer"
  member   = each.value
}

resource "google_project_iam_member" "occurrence_editors" {
  for_each = var.attestors

  project = var.project_id
  role    = "roles/containeranalysis.occurrences.editor"
  member  = each.value
}

resource "google_binary_authorization_policy" "this" {
  project                       = var.project_id
  global_policy_evaluation_mode = "ENABLE"

  dynamic "admission_whitelist_patterns" {
    for_each = var.allowlisted_image_patterns
    content {
      name_pattern = admission_whitelist_patterns.value
    }
  }

  default_admission_rule {
    evaluation_mode         = "REQUIRE_ATTESTATION"
    enforcement_mode        = var.enforcement_mode
    require_attestations_by = [google_binary_authorization_attestor.this.name]
  }
}
