variable "region" {
  description = "AWS region to create everything in."
  type        = string
  default     = "us-east-1"
}

variable "cluster_name" {
  description = "Name of the EKS cluster (also used for the VPC and tags)."
  type        = string
  default     = "runway"
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.29"
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC. Private subnets get /20s, public subnets /24s."
  type        = string
  default     = "10.0.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper) instead of one per AZ (survives an AZ outage)."
  type        = bool
  default     = true
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the public Kubernetes API endpoint. Narrow this to your network."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "cpu_instance_types" {
  description = "Instance types of the CPU node group (Runway itself, CPU jobs, cluster add-ons)."
  type        = list(string)
  default     = ["m6i.2xlarge"]
}

variable "cpu_min_size" {
  description = "Minimum number of CPU nodes."
  type        = number
  default     = 2
}

variable "cpu_desired_size" {
  description = "Initial number of CPU nodes."
  type        = number
  default     = 2
}

variable "cpu_max_size" {
  description = "Maximum number of CPU nodes."
  type        = number
  default     = 6
}

variable "gpu_instance_types" {
  description = "Instance types of the GPU node group (g5.2xlarge: 1 NVIDIA A10G, 8 vCPU, 32 GiB)."
  type        = list(string)
  default     = ["g5.2xlarge"]
}

variable "gpu_ami_type" {
  description = "EKS AMI type of the GPU node group: an NVIDIA-accelerated AMI with drivers installed."
  type        = string
  default     = "AL2_x86_64_GPU"
}

variable "gpu_min_size" {
  description = "Minimum number of GPU nodes (0 lets a cluster autoscaler scale the group to zero)."
  type        = number
  default     = 0
}

variable "gpu_desired_size" {
  description = "Initial number of GPU nodes."
  type        = number
  default     = 1
}

variable "gpu_max_size" {
  description = "Maximum number of GPU nodes."
  type        = number
  default     = 4
}

variable "gpu_disk_size_gb" {
  description = "Root volume size of GPU nodes in GiB (ML images are large)."
  type        = number
  default     = 200
}

variable "nvidia_device_plugin_version" {
  description = "Version of the nvidia-device-plugin Helm chart."
  type        = string
  default     = "0.15.0"
}

variable "install_monitoring" {
  description = "Install kube-prometheus-stack (Prometheus Operator, Prometheus, Alertmanager, Grafana) for Runway's ServiceMonitor, alerts and dashboard."
  type        = bool
  default     = true
}

variable "kube_prometheus_stack_version" {
  description = "Version of the kube-prometheus-stack Helm chart."
  type        = string
  default     = "58.2.2"
}

variable "tags" {
  description = "Tags added to every AWS resource."
  type        = map(string)
  default = {
    project = "runway"
  }
}
