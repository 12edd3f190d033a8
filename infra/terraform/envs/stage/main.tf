locals {
  environment = "stage"
  name        = "bro-ai-stage"
  namespace   = "bro-ai-staging"
  node_tag    = "${local.name}-gke-node"
  labels = {
    app         = "bro-ai"
    environment = local.environment
    managed-by  = "terraform"
  }
  agents = module.project.service_agents

  # Third-party controllers admitted without attestation (Binary Authorization).
  allowlisted_images = [
    "quay.io/argoproj/*",
    "registry.k8s.io/csi-secrets-store/*",
    "us-docker.pkg.dev/secretmanager-csi/secrets-store-csi-driver-provider-gcp/*",
  ]
}

module "project" {
  source = "../../modules/project"

  project_id = var.project_id
}

module "kms" {
  source = "../../modules/kms"

  project_id    = module.project.project_id
  location      = var.region
  key_ring_name = local.name
  labels        = local.labels
  keys = {
    gke               = { encrypters_decrypters = { agent = "serviceAccount:${local.agents.gke}" } }
    cloudsql          = { encrypters_decrypters = { agent = "serviceAccount:${local.agents.cloud_sql}" } }
    redis             = { encrypters_decrypters = { agent = "serviceAccount:${local.agents.redis}" } }
    secrets           = { encrypters_decrypters = { agent = "serviceAccount:${local.agents.secret_manager}" } }
    storage           = { encrypters_decrypters = { agent = "serviceAccount:${local.agents.storage}" } }
    artifact-registry = { encrypters_decrypters = { agent = "serviceAccount:${local.agents.artifact_registry}" } }
    pubsub            = { encrypters_decrypters = { agent = "serviceAccount:${local.agents.pubsub}" } }
    bigquery          = { encrypters_decrypters = { agent = "serviceAccount:${local.agents.bigquery}" } }
    # Application-level encryption of conversation content (envelope keys).
    app = {
      encrypters_decrypters = {
        app = module.iam.members["bro-ai"]
      }
    }
    attestor-signing = {
      purpose   = "ASYMMETRIC_SIGN"
      algorithm = "EC_SIGN_P256_SHA256"
      signers   = { ci = var.ci_principal_set }
    }
  }
}

# The backups bucket is dual-region (NAM4): its key lives in the same location.
module "kms_backups" {
  source = "../../modules/kms"

  project_id    = module.project.project_id
  location      = "nam4"
  key_ring_name = "${local.name}-nam4"
  labels        = local.labels
  keys = {
    storage = { encrypters_decrypters = { agent = "serviceAccount:${local.agents.storage}" } }
  }
}

module "network" {
  source = "../../modules/network"

  project_id                  = module.project.project_id
  name                        = local.name
  region                      = var.region
  public_subnet_cidr          = "10.10.1.0/24"
  private_subnet_cidr         = "10.10.2.0/24"
  pods_cidr                   = "10.11.0.0/16"
  services_cidr               = "10.12.0.0/16"
  private_service_access_cidr = "10.10.16.0/20"
  gke_node_tag                = local.node_tag
  flow_log_sampling           = 0.1
}

module "gke" {
  source = "../../modules/gke"

  project_id                 = module.project.project_id
  name                       = local.name
  region                     = var.region
  node_locations             = ["us-central1-a", "us-central1-b"]
  network                    = module.network.network_self_link
  subnetwork                 = module.network.gke_subnet_self_link
  pods_range_name            = module.network.pods_range_name
  services_range_name        = module.network.services_range_name
  master_ipv4_cidr_block     = "10.10.3.0/28"
  master_authorized_networks = var.master_authorized_networks
  database_encryption_key    = module.kms.key_ids["gke"]
  node_tag                   = local.node_tag
  deletion_protection        = false
  labels                     = local.labels

  node_pools = {
    general = {
      machine_type = "e2-medium"
      min_nodes    = 1
      max_nodes    = 5
      disk_size_gb = 50
      disk_type    = "pd-standard"
      spot         = true
    }
  }
}

module "iam" {
  source = "../../modules/iam"

  project_id             = module.project.project_id
  workload_identity_pool = module.gke.workload_identity_pool
  namespace              = local.namespace
  iap_accessors          = var.iap_accessors

  # deploy/ runs the API, the workers, the CronJobs and the migration Job
  # under these ServiceAccounts; one Google identity serves the application.
  # Backups get an identity of their own (create and read, never delete).
  workloads = {
    bro-ai = {
      display_name = "Bro AI (${local.environment})"
      ksas         = ["bro-ai", "bro-ai-worker", "bro-ai-migrate"]
      project_roles = [
        "roles/aiplatform.user",
        "roles/cloudsql.client",
        "roles/cloudsql.instanceUser",
        "roles/cloudtrace.agent",
        "roles/errorreporting.writer",
        "roles/logging.logWriter",
        "roles/monitoring.metricWriter",
      ]
    }
    bro-ai-backup = {
      display_name = "Bro AI backups (${local.environment})"
      ksas         = ["bro-ai-backup"]
      project_roles = [
        "roles/cloudsql.client",
        "roles/cloudsql.instanceUser",
        "roles/cloudsql.viewer",
        "roles/logging.logWriter",
        "roles/monitoring.metricWriter",
      ]
    }
  }
}

module "cloudsql" {
  source = "../../modules/cloudsql"

  project_id               = module.project.project_id
  name                     = local.name
  region                   = var.region
  tier                     = "db-f1-micro"
  availability_type        = "ZONAL"
  disk_type                = "PD_HDD"
  disk_size_gb             = 20
  disk_autoresize_limit_gb = 100
  backup_retention_count   = 7
  network_id               = module.network.network_id
  allocated_ip_range       = module.network.private_service_access_range_name
  kms_key_id               = module.kms.key_ids["cloudsql"]
  deletion_protection      = false
  labels                   = local.labels

  iam_users = {
    app    = module.iam.emails["bro-ai"]
    backup = module.iam.emails["bro-ai-backup"]
  }
}

module "redis" {
  source = "../../modules/redis"

  project_id        = module.project.project_id
  name              = local.name
  region            = var.region
  memory_size_gb    = 1
  persistence       = null
  network_id        = module.network.network_id
  reserved_ip_range = module.network.private_service_access_range_name
  kms_key_id        = module.kms.key_ids["redis"]
  labels            = local.labels
}

module "storage" {
  source = "../../modules/storage"

  project_id             = module.project.project_id
  name_prefix            = var.project_id
  region                 = var.region
  kms_key_id             = module.kms.key_ids["storage"]
  backups_kms_key_id     = module.kms_backups.key_ids["storage"]
  backup_retention_days  = 30
  cdn_fill_service_agent = var.cdn_signed_requests ? local.agents.cdn_fill : null
  labels                 = local.labels

  files_object_admins = {
    app = module.iam.members["bro-ai"]
  }
  backups_writers = {
    backup = module.iam.members["bro-ai-backup"]
  }
  static_object_admins = {
    ci = var.ci_principal_set
  }
}

module "pubsub" {
  source = "../../modules/pubsub"

  project_id     = module.project.project_id
  project_number = module.project.project_number
  region         = var.region
  kms_key_id     = module.kms.key_ids["pubsub"]
  labels         = local.labels

  topics = {
    usage = {
      publishers    = { app = module.iam.members["bro-ai"] }
      subscriptions = { worker = { subscribers = { app = module.iam.members["bro-ai"] } } }
    }
    audit = {
      publishers    = { app = module.iam.members["bro-ai"] }
      subscriptions = { worker = { subscribers = { app = module.iam.members["bro-ai"] } } }
    }
    jobs = {
      publishers = { app = module.iam.members["bro-ai"] }
      subscriptions = {
        worker = {
          ack_deadline_seconds = 600
          subscribers          = { app = module.iam.members["bro-ai"] }
        }
      }
    }
    # Secret Manager rotation notices (the secrets module grants its agent).
    secret-rotation = {
      subscriptions = { worker = { subscribers = { app = module.iam.members["bro-ai"] } } }
    }
  }
}

module "secrets" {
  source = "../../modules/secrets"

  project_id        = module.project.project_id
  project_number    = module.project.project_number
  region            = var.region
  kms_key_id        = module.kms.key_ids["secrets"]
  rotation_topic_id = module.pubsub.topic_ids["secret-rotation"]
  labels            = local.labels

  # Names as deploy/'s SecretProviderClass mounts them. Values are added
  # outside Terraform (gcloud secrets versions add).
  secrets = {
    bro-ai-database-url = {
      accessors = { app = module.iam.members["bro-ai"], backup = module.iam.members["bro-ai-backup"] }
    }
    bro-ai-redis-url          = { accessors = { app = module.iam.members["bro-ai"] } }
    bro-ai-key-secret         = { accessors = { app = module.iam.members["bro-ai"] } }
    bro-ai-session-secret     = { accessors = { app = module.iam.members["bro-ai"] } }
    bro-ai-oidc-client-secret = { accessors = { app = module.iam.members["bro-ai"] } }
    bro-ai-iap-client-id      = { accessors = { app = module.iam.members["bro-ai"] } }
    bro-ai-iap-client-secret  = { accessors = { app = module.iam.members["bro-ai"] } }
    bro-ai-openai-api-key     = { accessors = { app = module.iam.members["bro-ai"] } }
    bro-ai-anthropic-api-key  = { accessors = { app = module.iam.members["bro-ai"] } }
    bro-ai-sentry-dsn = {
      rotate    = false
      accessors = { app = module.iam.members["bro-ai"] }
    }
  }
}

module "artifact_registry" {
  source = "../../modules/artifact-registry"

  project_id = module.project.project_id
  region     = var.region
  kms_key_id = module.kms.key_ids["artifact-registry"]
  labels     = local.labels

  readers = { nodes = "serviceAccount:${module.gke.node_service_account}" }
  writers = { ci = var.ci_principal_set }
}

module "binary_authorization" {
  source = "../../modules/binary-authorization"

  project_id                 = module.project.project_id
  signing_key_id             = module.kms.key_ids["attestor-signing"]
  attestors                  = { ci = var.ci_principal_set }
  allowlisted_image_patterns = local.allowlisted_images
}

module "edge" {
  source = "../../modules/edge"

  project_id    = module.project.project_id
  name          = local.name
  assets_domain = "assets.${var.domain}"
  # Names deploy/ refers to (Ingress, FrontendConfig, BackendConfig).
  ingress_address_name     = "bro-ai-staging-ip"
  ssl_policy_name          = "bro-ai-modern-tls"
  security_policy_name     = "bro-ai-staging-armor"
  static_backend_bucket_id = module.storage.static_backend_bucket_id
}

module "dns" {
  source = "../../modules/dns"

  project_id = module.project.project_id
  zone_name  = local.name
  dns_name   = "${var.domain}."
  labels     = local.labels

  a_records = {
    api    = [module.edge.ingress_ip_address]
    assets = [module.edge.assets_ip_address]
  }
}

module "observability" {
  source = "../../modules/observability"

  project_id             = module.project.project_id
  environment            = local.environment
  api_host               = "api.${var.domain}"
  notification_emails    = var.alert_emails
  cloudsql_instance_name = module.cloudsql.instance_name
  cloudsql_replica_names = module.cloudsql.replica_names
  log_retention_days     = 30
  bigquery_location      = var.region
  bigquery_kms_key_id    = module.kms.key_ids["bigquery"]
  labels                 = local.labels

  dead_letter_subscriptions = module.pubsub.dead_letter_subscription_names
  log_sink_filter           = "(resource.type=\"k8s_container\" AND resource.labels.namespace_name=\"${local.namespace}\") OR logName:\"cloudaudit.googleapis.com\""
}

module "budget" {
  source = "../../modules/budget"

  billing_account          = var.billing_account
  project_number           = module.project.project_number
  display_name             = "Bro AI ${local.environment}"
  amount                   = 200
  notification_channel_ids = module.observability.notification_channel_ids
}
