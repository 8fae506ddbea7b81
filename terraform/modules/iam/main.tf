# One role and instance profile per kind of instance. Every instance that runs a Consul
# agent may describe EC2 instances (Consul cloud auto-join, `retry_join = provider=aws`);
# the agents may additionally pull from the given ECR repositories. Nothing else.

data "aws_partition" "current" {}

locals {
  roles = toset(["masters", "agents", "consul", "bastion", "jenkins"])
}

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.roles

  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json

  tags = var.tags
}

resource "aws_iam_instance_profile" "this" {
  for_each = local.roles

  name = "${var.name}-${each.key}"
  role = aws_iam_role.this[each.key].name

  tags = var.tags
}

data "aws_iam_policy_document" "consul_auto_join" {
  statement {
    sid       = "ConsulCloudAutoJoin"
    actions   = ["ec2:DescribeInstances"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "consul_auto_join" {
  for_each = local.roles

  name   = "consul-auto-join"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.consul_auto_join.json
}

data "aws_iam_policy_document" "ecr_pull" {
  count = length(var.ecr_repository_arns) > 0 ? 1 : 0

  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "EcrPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = var.ecr_repository_arns
  }
}

resource "aws_iam_role_policy" "agents_ecr_pull" {
  count = length(var.ecr_repository_arns) > 0 ? 1 : 0

  name   = "ecr-pull"
  role   = aws_iam_role.this["agents"].id
  policy = data.aws_iam_policy_document.ecr_pull[0].json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  for_each = var.enable_ssm ? local.roles : toset([])

  role       = aws_iam_role.this[each.key].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}
