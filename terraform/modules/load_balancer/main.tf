# Network load balancer in front of HAProxy on the masters. TCP pass-through: TLS ends in
# HAProxy (SNI with the certificates paas-router reads from Vault), so the LB carries no
# certificate. HAProxy answers 404/503 itself; the LB only checks that the port accepts
# connections, on every master.

locals {
  ports = merge(
    { http = 80, https = 443 },
    { for p in var.tcp_app_ports : "tcp-${p}" => p },
  )
  attachments = {
    for pair in setproduct(keys(local.ports), range(length(var.target_instance_ids))) :
    "${pair[0]}-${pair[1]}" => { listener = pair[0], instance = var.target_instance_ids[pair[1]] }
  }
}

resource "aws_lb" "this" {
  name                             = var.name
  load_balancer_type               = "network"
  internal                         = false
  subnets                          = var.subnet_ids
  security_groups                  = var.security_group_ids
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = var.enable_deletion_protection

  tags = var.tags
}

resource "aws_lb_target_group" "this" {
  for_each = local.ports

  name                 = substr("${var.name}-${each.key}", 0, 32)
  port                 = each.value
  protocol             = "TCP"
  target_type          = "instance"
  vpc_id               = var.vpc_id
  proxy_protocol_v2    = var.proxy_protocol_v2
  deregistration_delay = 30

  health_check {
    protocol            = "TCP"
    port                = "traffic-port"
    interval            = 10
    healthy_threshold   = 3
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "this" {
  for_each = local.ports

  load_balancer_arn = aws_lb.this.arn
  port              = each.value
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[each.key].arn
  }

  tags = var.tags
}

resource "aws_lb_target_group_attachment" "this" {
  for_each = local.attachments

  target_group_arn = aws_lb_target_group.this[each.value.listener].arn
  target_id        = each.value.instance
  port             = local.ports[each.value.listener]
}
