"""What each enterprise or authz event tells whom: (recipient, kind, title, body, data), in the manual's words.

企业用户 / 企业管理员 / 关联企业 / 审核通过 / 变更企业管理员 / 法人卡 / 角色认证 are the manual's terms.
"""
from dataclasses import dataclass

from contracts.enterprise import USER

ASSOCIATION_REQUESTED = "association_requested"
ASSOCIATION_APPROVED = "association_approved"
ASSOCIATION_REJECTED = "association_rejected"
ADMIN_TRANSFERRED = "admin_transferred"
ADMIN_SUPERSEDED = "admin_superseded"
ADMIN_CLAIMED = "admin_claimed"
ROLE_CERTIFICATION_LOST = "role_certification_lost"
PERMISSION_GRANTED = "permission_granted"
PERMISSION_REVOKED = "permission_revoked"
LOST_BECAUSE = {"unbound": "已解除绑定", "revoked": "已被发卡机构吊销", "expired": "证书已过期"}
IDENTITY_SUPERSEDED = "identity_superseded"


@dataclass(frozen=True)
class Note:
    recipient_user_id: str
    kind: str
    title: str
    body: str
    data: dict


def _enterprise(p):
    return f"“{p['enterprise_name']}”" if p.get("enterprise_name") else "该企业"


def notes_for(envelope):
    """The messages one integration event of the enterprise service (or identity's UserSuperseded,
    authz's PermissionGranted and PermissionRevoked) makes; [] for the others."""
    p = envelope["payload"]
    kind = envelope["event_type"]
    if envelope.get("source") == "identity":
        return _identity_notes(kind, p)
    if envelope.get("source") == "authz":
        return _permission_notes(envelope)
    ent = _enterprise(p)
    return _association_notes(kind, p, ent) or _admin_notes(kind, p, ent)


def _association_notes(kind, p, ent):
    if kind == "AssociationRequested" and p.get("admin_user_id"):
        # Only that a request waits: its administrator may be an uncertified account that typed the
        # USCC, and learns who applied (name, mobile, user id) from the requests list once certified.
        # Events stored before carried the name; it is ignored, so a rebuilt inbox shows none either.
        return [Note(p["admin_user_id"], ASSOCIATION_REQUESTED, "企业关联申请待审核",
                     f"有用户申请以企业用户身份关联企业{ent}，请审核（完成角色认证的企业管理员可查看申请人并审核）。",
                     {"association_id": p["association_id"], "enterprise_id": p["enterprise_id"]})]
    if kind == "AssociationApproved" and p.get("role") == USER:
        # The administrator's own association is approved by registering: nothing to tell.
        return [Note(p["user_id"], ASSOCIATION_APPROVED, "企业关联申请已审核通过",
                     f"您关联企业{ent}的申请已审核通过，您已成为该企业的企业用户。",
                     {"association_id": p["association_id"], "enterprise_id": p["enterprise_id"]})]
    if kind == "AssociationRejected":
        reason = f"原因：{p['reason']}" if p.get("reason") else ""
        return [Note(p["user_id"], ASSOCIATION_REJECTED, "企业关联申请未通过",
                     f"您关联企业{ent}的申请未通过审核。{reason}",
                     {"association_id": p["association_id"], "enterprise_id": p["enterprise_id"],
                      "reason": p.get("reason")})]
    return []


def _admin_notes(kind, p, ent):
    if kind == "AdminTransferred":
        data = {"enterprise_id": p["enterprise_id"], "from_user_id": p["from_user_id"],
                "to_user_id": p["to_user_id"]}
        return [
            Note(p["to_user_id"], ADMIN_TRANSFERRED, "企业管理员变更",
                 f"您已成为企业{ent}的企业管理员。", data),
            Note(p["from_user_id"], ADMIN_TRANSFERRED, "企业管理员变更",
                 f"企业{ent}的企业管理员账号已变更，您现为该企业的企业用户。", data),
        ]
    if kind == "AdminSuperseded":
        return [Note(p["from_user_id"], ADMIN_SUPERSEDED, "企业管理员角色已由法人卡持卡人认领",
                     f"您在企业{ent}的企业管理员角色未经角色认证，该企业法人卡的持卡人已认领企业管理员角色；"
                     "您与该企业的关联已解除，您所做的授权已撤销。",
                     {"enterprise_id": p["enterprise_id"], "association_id": p["from_association_id"],
                      "to_user_id": p["to_user_id"]})]
    if kind == "RoleCertificationLost":
        because = LOST_BECAUSE.get(p.get("reason"), "已失效")
        return [Note(p["user_id"], ROLE_CERTIFICATION_LOST, "企业管理员角色认证已失效",
                     f"您在企业{ent}的角色认证所依据的法人卡{because}，您的企业管理员角色"
                     "现为未认证：在重新认证前不能审核、授权或变更管理员，该企业法人卡的持卡人可认领企业管理员角色。"
                     "请绑定有效的本企业法人卡重新完成角色认证。",
                     {"enterprise_id": p["enterprise_id"], "association_id": p["association_id"],
                      "reason": p.get("reason")})]
    if kind == "RoleCertified" and p.get("via") == "claim":
        # Binding the card says so in its answer, a handover in its own message; a claim is told here.
        return [Note(p["user_id"], ADMIN_CLAIMED, "已认领企业管理员角色",
                     f"您已凭法人卡成为企业{ent}的企业管理员（角色认证：已认证）。",
                     {"enterprise_id": p["enterprise_id"], "association_id": p["association_id"]})]
    return []


def _identity_notes(kind, p):
    if kind == "UserSuperseded":  # no data: the claimant's account is not the superseded one's business
        return [Note(p["user_id"], IDENTITY_SUPERSEDED, "账户已由证件持有人认领",
                     "持有本账户所登记证件号码的电子口岸IC卡持卡人已完成实名认证并认领该证件号码；本账户已停用，"
                     "登录已失效，与企业的关联已解除，所获授权已撤销。", {})]
    return []


# Why a member lost a system (contracts/authz.py REVOKE_REASONS), said to them.
REVOKED_BECAUSE = {
    "revoked": "企业管理员已撤销您在企业{ent}的业务系统“{system}”的操作权限。",
    "membership_ended": "您与企业{ent}的关联已结束，您在该企业的业务系统“{system}”的操作权限随之撤销。",
    "admin_superseded": "为您授权的企业{ent}原企业管理员未经角色认证，其角色已由法人卡持卡人认领，"
                        "您在该企业的业务系统“{system}”的操作权限已撤销。",
}


def _permission_notes(envelope):
    """A grant or a revocation, told to the member it concerns and nobody else. `enterprise_name` is
    not authz's: the consumer adds it to the payload (service.py)."""
    p = envelope["payload"]
    ent, system = _enterprise(p), p.get("system_name") or p["system"]
    data = {"enterprise_id": p["enterprise_id"], "system": p["system"], "system_name": system}
    if envelope["event_type"] == "PermissionGranted":
        return [Note(p["user_id"], PERMISSION_GRANTED, "已获得业务系统权限",
                     f"企业管理员已为您开通企业{ent}的业务系统“{system}”的操作权限，可在“关联企业”中查看。", data)]
    if envelope["event_type"] == "PermissionRevoked":
        text = REVOKED_BECAUSE.get(p.get("reason"), REVOKED_BECAUSE["revoked"])
        return [Note(p["user_id"], PERMISSION_REVOKED, "业务系统权限已撤销", text.format(ent=ent, system=system),
                     dict(data, reason=p.get("reason")))]
    return []
