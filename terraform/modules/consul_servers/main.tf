# Consul servers, shared by staging and production (staging joins them over VPC peering).
# Agents find them through the consul-cluster tag (cloud auto-join).

resource "aws_instance" "this" {
  count = var.instance_count

  ami                     = var.ami_id
  instance_type           = var.instance_type
  subnet_id               = var.subnet_ids[count.index % length(var.subnet_ids)]
  vpc_security_group_ids  = var.security_group_ids
  iam_instance_profile    = var.iam_instance_profile
  key_name                = var.key_name
  disable_api_termination = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.data_volume_size
    encrypted             = true
    delete_on_termination = true
  }

  tags = merge(var.tags, {
    Name             = "${var.name}-${count.index + 1}"
    Role             = "consul-server"
    "consul-cluster" = var.cluster_tag_value
  })

  lifecycle {
    ignore_changes = [ami]
  }
}
