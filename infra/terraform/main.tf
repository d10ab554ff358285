provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

# The Kubernetes and Helm providers authenticate with a short-lived token from the AWS CLI, so no
# credentials are stored in the state or in this repository.
provider "kubernetes" {
  host                   = module.eks.cluster_endpoint
  cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)

  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
  }
}

provider "helm" {
  kubernetes {
    host                   = module.eks.cluster_endpoint
    cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)

    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
    }
  }
}

data "aws_availability_zones" "available" {
  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, 3)

  # Must match RUNWAY_GPU_TOLERATION and RUNWAY_GPU_NODE_SELECTOR in deploy/overlays/eks.
  gpu_taint_key      = "nvidia.com/gpu"
  gpu_node_label     = "nvidia.com/gpu.present"
  jobs_namespace     = "jobs"
  monitoring_enabled = var.install_monitoring ? 1 : 0
}

# ---------------------------------------------------------------------------------------------
# Network: private subnets for nodes, public subnets for load balancers and NAT.
# ---------------------------------------------------------------------------------------------
module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.0"

  name = var.cluster_name
  cidr = var.vpc_cidr
  azs  = local.azs

  private_subnets = [for i, az in local.azs : cidrsubnet(var.vpc_cidr, 4, i)]
  public_subnets  = [for i, az in local.azs : cidrsubnet(var.vpc_cidr, 8, i + 48)]

  enable_nat_gateway   = true
  single_nat_gateway   = var.single_nat_gateway
  enable_dns_hostnames = true

  public_subnet_tags = {
    "kubernetes.io/role/elb" = 1
  }
  private_subnet_tags = {
    "kubernetes.io/role/internal-elb" = 1
  }
}

# ---------------------------------------------------------------------------------------------
# EKS with a CPU and a GPU managed node group.
# ---------------------------------------------------------------------------------------------
module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.0"

  cluster_name    = var.cluster_name
  cluster_version = var.kubernetes_version

  cluster_endpoint_public_access       = true
  cluster_endpoint_public_access_cidrs = var.cluster_endpoint_public_access_cidrs

  # The identity running terraform becomes cluster admin (an EKS access entry), so it can apply
  # deploy/. Grant others access with more access entries.
  enable_cluster_creator_admin_permissions = true

  vpc_id     = module.vpc.vpc_id
  subnet_ids = module.vpc.private_subnets

  cluster_addons = {
    coredns    = { most_recent = true }
    kube-proxy = { most_recent = true }
    vpc-cni = {
      most_recent    = true
      before_compute = true
      # Enforce NetworkPolicy (deploy/base: job pods accept no ingress). Needs VPC CNI >= 1.14.
      configuration_values = jsonencode({
        enableNetworkPolicy = "true"
      })
    }
  }

  eks_managed_node_groups = {
    # Runway, CPU-only jobs and cluster add-ons.
    cpu = {
      ami_type       = "AL2_x86_64"
      instance_types = var.cpu_instance_types
      min_size       = var.cpu_min_size
      max_size       = var.cpu_max_size
      desired_size   = var.cpu_desired_size

      labels = {
        "runway.dev/pool" = "cpu"
      }
    }

    # GPU jobs only: the taint keeps everything else off; Runway adds the matching toleration and
    # node selector to pods that request nvidia.com/gpu.
    gpu = {
      ami_type       = var.gpu_ami_type
      instance_types = var.gpu_instance_types
      min_size       = var.gpu_min_size
      max_size       = var.gpu_max_size
      desired_size   = var.gpu_desired_size

      use_custom_launch_template = false
      disk_size                  = var.gpu_disk_size_gb

      labels = {
        "runway.dev/pool"      = "gpu"
        (local.gpu_node_label) = "true"
      }

      taints = {
        gpu = {
          key    = local.gpu_taint_key
          value  = "true"
          effect = "NO_SCHEDULE"
        }
      }
    }
  }
}

# ---------------------------------------------------------------------------------------------
# In-cluster: NVIDIA device plugin (advertises nvidia.com/gpu), the jobs namespace, monitoring.
# ---------------------------------------------------------------------------------------------
resource "helm_release" "nvidia_device_plugin" {
  name       = "nvidia-device-plugin"
  repository = "https://nvidia.github.io/k8s-device-plugin"
  chart      = "nvidia-device-plugin"
  version    = var.nvidia_device_plugin_version
  namespace  = "kube-system"

  values = [yamlencode({
    nodeSelector = {
      (local.gpu_node_label) = "true"
    }
    tolerations = [
      {
        key      = local.gpu_taint_key
        operator = "Exists"
        effect   = "NoSchedule"
      },
      {
        key      = "CriticalAddonsOnly"
        operator = "Exists"
      },
    ]
  })]

  depends_on = [module.eks]
}

# Also declared in deploy/base (kubectl apply adopts it); created here so that the namespace and
# its labels exist before Runway is installed.
resource "kubernetes_namespace" "jobs" {
  metadata {
    name = local.jobs_namespace

    labels = {
      "app.kubernetes.io/part-of"          = "runway"
      "pod-security.kubernetes.io/enforce" = "baseline"
      "pod-security.kubernetes.io/warn"    = "restricted"
    }
  }

  depends_on = [module.eks]
}

# Prometheus Operator, Prometheus, Alertmanager and Grafana. Runway's ServiceMonitor, PrometheusRule
# and dashboard ConfigMap (deploy/observability) are picked up from any namespace.
resource "helm_release" "kube_prometheus_stack" {
  count = local.monitoring_enabled

  name             = "kube-prometheus-stack"
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "kube-prometheus-stack"
  version          = var.kube_prometheus_stack_version
  namespace        = "monitoring"
  create_namespace = true

  values = [yamlencode({
    prometheus = {
      prometheusSpec = {
        serviceMonitorSelectorNilUsesHelmValues = false
        ruleSelectorNilUsesHelmValues           = false
      }
    }
    grafana = {
      sidecar = {
        dashboards = {
          enabled         = true
          label           = "grafana_dashboard"
          searchNamespace = "ALL"
        }
      }
    }
  })]

  depends_on = [module.eks]
}

# Where the Runway image is pushed (docs/operations.md#install-on-eks).
resource "aws_ecr_repository" "runway" {
  name                 = "runway"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }
}
