# The composition of one Bro AI environment: every module of this tree, wired
# together. envs/<env> call it once with that environment's sizes, CIDRs and
# toggles; everything else (names, grants, keys, topics, secrets, alerts) is
# the same in every environment.

locals {
  name     = "bro-ai-${var.environment}"
  node_tag = "${local.name}-gke-node"
  labels = {
    app         = "bro-ai"
    environment = var.environment
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
  source = "../project"

  project_id = var.project_id
}

module "kms" {
  source = "../kms"

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
  source = "../kms"

  project_id    = module.project.project_id
  location      = "nam4"
  key_ring_name = "${local.name}-nam4"
  labels        = local.labels
  keys = {
    storage = { encrypters_decrypters = { agent = "serviceAccount:${local.agents.storage}" } }
  }
}

# Cross-region replica of Cloud SQL (disaster recovery), when
# cloudsql.replica_region is set: its CMEK key must be in the replica's region.
module "kms_dr" {
  source = "../kms"
  count  = var.cloudsql.replica_region == null ? 0 : 1

  project_id    = module.project.project_id
  location      = var.cloudsql.replica_region
  key_ring_name = "${local.name}-${var.cloudsql.replica_region}"
  labels        = local.labels
  keys = {
    cloudsql = { encrypters_decrypters = { agent = "serviceAccount:${local.agents.cloud_sql}" } }
  }
}

module "network" {
  source = "../network"

  project_id                  = module.project.project_id
  name                        = local.name
  region                      = var.region
  public_subnet_cidr          = var.cidrs.public_subnet
  private_subnet_cidr         = var.cidrs.private_subnet
  pods_cidr                   = var.cidrs.pods
  services_cidr               = var.cidrs.services
  private_service_access_cidr = var.cidrs.private_service_access
  gke_node_tag                = local.node_tag
  flow_log_sampling           = var.flow_log_sampling
}

module "gke" {
  source = "../gke"

  project_id                 = module.project.project_id
  name                       = local.name
  region                     = var.region
  node_locations             = var.gke.node_locations
  network                    = module.network.network_self_link
  subnetwork                 = module.network.gke_subnet_self_link
  pods_range_name            = module.network.pods_range_name
  services_range_name        = module.network.services_range_name
  master_ipv4_cidr_block     = var.cidrs.gke_control_plane
  master_authorized_networks = var.master_authorized_networks
  database_encryption_key    = module.kms.key_ids["gke"]
  node_tag                   = local.node_tag
  deletion_protection        = var.deletion_protection
  labels                     = local.labels
  node_pools                 = var.gke.node_pools
}

module "iam" {
  source = "../iam"

  project_id             = module.project.project_id
  workload_identity_pool = module.gke.workload_identity_pool
  namespace              = var.kubernetes_namespace
  iap_accessors          = var.iap_accessors

  # deploy/ runs the API, the workers, the CronJobs and the migration Job
  # under these ServiceAccounts; one Google identity serves the application.
  # Backups get an identity of their own (create and read, never delete).
  workloads = {
    bro-ai = {
      display_name = "Bro AI (${var.environment})"
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
      display_name = "Bro AI backups (${var.environment})"
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
  source = "../cloudsql"

  project_id               = module.project.project_id
  name                     = local.name
  region                   = var.region
  tier                     = var.cloudsql.tier
  availability_type        = var.cloudsql.availability_type
  disk_type                = var.cloudsql.disk_type
  disk_size_gb             = var.cloudsql.disk_size_gb
  disk_autoresize_limit_gb = var.cloudsql.disk_autoresize_limit_gb
  backup_retention_count   = var.cloudsql.backup_retention_count
  network_id               = module.network.network_id
  allocated_ip_range       = module.network.private_service_access_range_name
  kms_key_id               = module.kms.key_ids["cloudsql"]
  deletion_protection      = var.deletion_protection
  labels                   = local.labels

  iam_users = {
    app    = module.iam.emails["bro-ai"]
    backup = module.iam.emails["bro-ai-backup"]
  }
  replica = var.cloudsql.replica_region == null ? null : {
    region     = var.cloudsql.replica_region
    kms_key_id = module.kms_dr[0].key_ids["cloudsql"]
  }
}

module "redis" {
  source = "../redis"

  project_id        = module.project.project_id
  name              = local.name
  region            = var.region
  memory_size_gb    = var.redis.memory_size_gb
  persistence       = var.redis.persistence
  network_id        = module.network.network_id
  reserved_ip_range = module.network.private_service_access_range_name
  kms_key_id        = module.kms.key_ids["redis"]
  labels            = local.labels
}

module "storage" {
  source = "../storage"

  project_id             = module.project.project_id
  name_prefix            = var.project_id
  region                 = var.region
  kms_key_id             = module.kms.key_ids["storage"]
  backups_kms_key_id     = module.kms_backups.key_ids["storage"]
  backup_retention_days  = var.backup_retention_days
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
  source = "../pubsub"

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
  source = "../secrets"

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
  source = "../artifact-registry"

  project_id = module.project.project_id
  region     = var.region
  kms_key_id = module.kms.key_ids["artifact-registry"]
  labels     = local.labels

  readers = { nodes = "serviceAccount:${module.gke.node_service_account}" }
  writers = { ci = var.ci_principal_set }
}

module "binary_authorization" {
  source = "../binary-authorization"

  project_id                 = module.project.project_id
  signing_key_id             = module.kms.key_ids["attestor-signing"]
  attestors                  = { ci = var.ci_principal_set }
  allowlisted_image_patterns = local.allowlisted_images
}

module "edge" {
  source = "../edge"

  project_id    = module.project.project_id
  name          = local.name
  assets_domain = "assets.${var.domain}"
  # Names deploy/ refers to (Ingress, FrontendConfig, BackendConfig):
  # bro-ai-production-ip and bro-ai-production-armor in prod, bro-ai-staging-*
  # in stage.
  ingress_address_name     = "${var.kubernetes_namespace}-ip"
  ssl_policy_name          = "bro-ai-modern-tls"
  security_policy_name     = "${var.kubernetes_namespace}-armor"
  static_backend_bucket_id = module.storage.static_backend_bucket_id
}

module "dns" {
  source = "../dns"

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
  source = "../observability"

  project_id             = module.project.project_id
  environment            = var.environment
  api_host               = "api.${var.domain}"
  notification_emails    = var.alert_emails
  cloudsql_instance_name = module.cloudsql.instance_name
  cloudsql_replica_names = module.cloudsql.replica_names
  log_retention_days     = var.log_retention_days
  bigquery_location      = var.region
  bigquery_kms_key_id    = module.kms.key_ids["bigquery"]
  labels                 = local.labels

  dead_letter_subscriptions = module.pubsub.dead_letter_subscription_names
  log_sink_filter           = "(resource.type=\"k8s_container\" AND resource.labels.namespace_name=\"${var.kubernetes_namespace}\") OR logName:\"cloudaudit.googleapis.com\""
}

module "budget" {
  source = "../budget"

  billing_account          = var.billing_account
  project_number           = module.project.project_number
  display_name             = "Bro AI ${var.environment}"
  amount                   = var.budget_amount
  notification_channel_ids = module.observability.notification_channel_ids
}
