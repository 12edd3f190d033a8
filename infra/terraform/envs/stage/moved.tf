# The module calls of this root moved into modules/platform: these blocks
# carry the objects in state to their new addresses (no replacement). They can
# go once every copy of this state has been applied with them.

moved {
  from = module.project
  to   = module.platform.module.project
}

moved {
  from = module.kms
  to   = module.platform.module.kms
}

moved {
  from = module.kms_backups
  to   = module.platform.module.kms_backups
}

moved {
  from = module.network
  to   = module.platform.module.network
}

moved {
  from = module.gke
  to   = module.platform.module.gke
}

moved {
  from = module.iam
  to   = module.platform.module.iam
}

moved {
  from = module.cloudsql
  to   = module.platform.module.cloudsql
}

moved {
  from = module.redis
  to   = module.platform.module.redis
}

moved {
  from = module.storage
  to   = module.platform.module.storage
}

moved {
  from = module.pubsub
  to   = module.platform.module.pubsub
}

moved {
  from = module.secrets
  to   = module.platform.module.secrets
}

moved {
  from = module.artifact_registry
  to   = module.platform.module.artifact_registry
}

moved {
  from = module.binary_authorization
  to   = module.platform.module.binary_authorization
}

moved {
  from = module.edge
  to   = module.platform.module.edge
}

moved {
  from = module.dns
  to   = module.platform.module.dns
}

moved {
  from = module.observability
  to   = module.platform.module.observability
}

moved {
  from = module.budget
  to   = module.platform.module.budget
}
