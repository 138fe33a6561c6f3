//! The store's people-and-access functions on both backends (a real SQLite file and
//! a real PostgreSQL database), with the time
//! given explicitly.

use super::sessions::{ENDED_LOGINS_KEPT_MS, MAX_SESSIONS_PER_USER};
use super::*;
use crate::daemon::store::{Backend, on_both_backends};

const T0: i64 = 1_800_000_000_000;
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA";

async fn store(backend: Backend) -> (tempfile::TempDir, Store) {
    let (dir, store) = crate::daemon::store::test_store(backend);
    store.bootstrap(|_| Ok(())).await.expect("bootstrap");
    (dir, store)
}

async fn user(store: &Store, email: &str, role: Role) -> UserRow {
    store
        .add_user(1, email.into(), HASH.into(), role, "test".into(), T0)
        .await
        .expect("add user")
}

fn session(
    id: &str,
    user: &UserRow,
    expires_at: i64,
    refresh: Option<&str>,
    cookie: Option<&str>,
) -> NewSession {
    NewSession {
        id: id.into(),
        tenant_id: user.tenant_id,
        user_id: user.id,
        kind: if cookie.is_some() { "console" } else { "cli" },
        expires_at,
        source: None,
        refresh_hash: refresh.map(hash),
        cookie_hash: cookie.map(hash),
    }
}

async fn refresh_tokens_rotate_once_and_a_reuse_ends_the_session(backend: Backend) {
    let (_dir, s) = store(backend).await;
    let u = user(&s, "a@x.io", Role::Viewer).await;
    s.create_session(session("s1", &u, T0 + 1_000, Some("r1"), None), T0)
        .await
        .expect("session");
    let r = s
        .rotate_refresh(hash("r1"), hash("r2"), T0 + 10)
        .await
        .expect("rotate");
    assert!(
        matches!(r, Refreshed::Rotated { ref session, .. } if session.id == "s1"),
        "{r:?}"
    );
    let r = s
        .rotate_refresh(hash("r2"), hash("r3"), T0 + 20)
        .await
        .expect("rotate");
    assert!(matches!(r, Refreshed::Rotated { .. }), "{r:?}");
    // r1 again: used before. The session ends, and r3 with it.
    let r = s
        .rotate_refresh(hash("r1"), hash("r4"), T0 + 30)
        .await
        .expect("reuse");
    assert!(
        matches!(r, Refreshed::Reused { ref session, .. } if session.id == "s1"),
        "{r:?}"
    );
    let ended = s.session("s1".into()).await.expect("read").expect("kept");
    assert_eq!(ended.revoked_at, Some(T0 + 30));
    let r = s
        .rotate_refresh(hash("r3"), hash("r5"), T0 + 40)
        .await
        .expect("after");
    assert_eq!(r, Refreshed::Invalid);
    let r = s
        .rotate_refresh(hash("unknown"), hash("r6"), T0 + 40)
        .await
        .expect("unknown");
    assert_eq!(r, Refreshed::Invalid);
    // And the user's last login is the session's start.
    assert_eq!(
        s.user(u.id)
            .await
            .expect("user")
            .expect("there")
            .last_login_at,
        Some(T0)
    );
}

async fn a_session_past_its_expiry_refreshes_nothing_and_its_cookie_is_unknown(backend: Backend) {
    let (_dir, s) = store(backend).await;
    let u = user(&s, "a@x.io", Role::Viewer).await;
    s.create_session(session("cli", &u, T0 + 100, Some("r1"), None), T0)
        .await
        .expect("session");
    s.create_session(session("web", &u, T0 + 100, None, Some("c1")), T0)
        .await
        .expect("session");
    let r = s
        .rotate_refresh(hash("r1"), hash("r2"), T0 + 100)
        .await
        .expect("rotate");
    assert_eq!(r, Refreshed::Invalid, "expiry is absolute");
    let found = s
        .session_by_cookie(hash("c1"), T0 + 99)
        .await
        .expect("cookie");
    assert_eq!(
        found.map(|(s, u)| (s.id, u.email)),
        Some(("web".into(), "a@x.io".into()))
    );
    assert!(
        s.session_by_cookie(hash("c1"), T0 + 100)
            .await
            .expect("cookie")
            .is_none()
    );
    assert!(
        s.session_by_cookie(hash("c2"), T0)
            .await
            .expect("cookie")
            .is_none()
    );
    // A CLI session is no console session, even with its refresh token as cookie.
    assert!(
        s.session_by_cookie(hash("r1"), T0)
            .await
            .expect("cookie")
            .is_none()
    );
    assert!(
        s.revoke_session("web".into(), "logout", T0 + 1)
            .await
            .expect("revoke")
    );
    assert!(
        !s.revoke_session("web".into(), "logout", T0 + 2)
            .await
            .expect("again")
    );
    assert!(
        s.session_by_cookie(hash("c1"), T0 + 3)
            .await
            .expect("cookie")
            .is_none()
    );
}

async fn keys_expire_and_revoke_by_the_clock_given(backend: Backend) {
    let (_dir, s) = store(backend).await;
    let new = NewKey {
        name: "ci".into(),
        role: Role::Operator,
        expires_at: Some(T0 + 1_000),
        created_by: "user:a@x.io".into(),
    };
    let (row, full) = s.create_key(1, new.clone(), T0).await.expect("create");
    assert!(full.starts_with(&format!("upk_{}_", row.id)), "{full}");
    assert!(
        matches!(s.check_key(full.clone(), T0 + 999).await.expect("check"), KeyCheck::Valid { ref principal, .. } if principal.role == Role::Operator && principal.name == "ci")
    );
    assert_eq!(
        s.check_key(full.clone(), T0 + 1_000).await.expect("check"),
        KeyCheck::Expired
    );
    // An active key's name is taken; an expired one's is free again.
    assert!(s.create_key(1, new.clone(), T0 + 10).await.is_err());
    let (again, full2) = s.create_key(1, new, T0 + 2_000).await.expect("name free");
    let mut wrong = full2.clone();
    wrong.pop();
    wrong.push(if full2.ends_with('a') { 'b' } else { 'a' });
    assert_eq!(
        s.check_key(wrong, T0).await.expect("check"),
        KeyCheck::Invalid
    );
    assert_eq!(
        s.check_key("upk_short".into(), T0).await.expect("check"),
        KeyCheck::Invalid
    );
    s.revoke_key(1, again.id.clone(), T0 + 2_001)
        .await
        .expect("revoke");
    assert_eq!(
        s.check_key(full2, T0 + 2_002).await.expect("check"),
        KeyCheck::Invalid
    );
    assert!(matches!(
        s.revoke_key(2, again.id.clone(), T0).await,
        Err(StoreError::NotFound(_))
    ));
    let listed = s.list_keys(1, 100).await.expect("list");
    let states: Vec<_> = listed
        .iter()
        .map(|k| (k.name.as_str(), k.state(T0 + 3_000)))
        .collect();
    assert_eq!(
        states,
        vec![
            ("bootstrap-admin", "active"),
            ("ci", "expired"),
            ("ci", "revoked")
        ]
    );
    s.touch_key(row.id.clone(), T0 + 5).await.expect("touch");
    let listed = s.list_keys(1, 100).await.expect("list");
    assert_eq!(
        listed
            .iter()
            .find(|k| k.id == row.id)
            .and_then(|k| k.last_used_at),
        Some(T0 + 5)
    );
}

async fn the_last_admin_stays_and_changes_end_sessions(backend: Backend) {
    let (_dir, s) = store(backend).await;
    let a = user(&s, "a@x.io", Role::Admin).await;
    assert!(matches!(
        s.add_user(
            1,
            "a@x.io".into(),
            HASH.into(),
            Role::Viewer,
            "t".into(),
            T0
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        matches!(s.set_role(1, "a@x.io".into(), Role::Viewer, T0).await, Err(StoreError::Conflict(m)) if m.contains("last admin"))
    );
    assert!(matches!(
        s.remove_user(1, "a@x.io".into(), T0).await,
        Err(StoreError::Conflict(_))
    ));
    let b = user(&s, "b@x.io", Role::Operator).await;
    s.create_session(session("sb", &b, T0 + 1_000, Some("rb"), None), T0)
        .await
        .expect("session");
    s.create_session(session("sa", &a, T0 + 1_000, Some("ra"), None), T0)
        .await
        .expect("session");
    let (changed, ended, _) = s
        .set_role(1, "b@x.io".into(), Role::Admin, T0 + 1)
        .await
        .expect("role");
    assert_eq!((changed.role, ended), (Role::Admin, vec!["sb".to_string()]));
    // Two admins now: a may go, with its sessions.
    let (ended, _) = s
        .remove_user(1, "a@x.io".into(), T0 + 2)
        .await
        .expect("remove");
    assert_eq!(ended, vec!["sa".to_string()]);
    assert!(s.session("sa".into()).await.expect("read").is_none());
    assert!(
        s.users_by_email("a@x.io".into(), None, 5)
            .await
            .expect("find")
            .is_empty()
    );
    assert!(matches!(
        s.remove_user(1, "a@x.io".into(), T0 + 3).await,
        Err(StoreError::NotFound(_))
    ));
    // A password change ends every session but the one kept.
    s.create_session(session("sb2", &b, T0 + 1_000, Some("rb2"), None), T0)
        .await
        .expect("session");
    s.create_session(session("sb3", &b, T0 + 1_000, Some("rb3"), None), T0)
        .await
        .expect("session");
    let ended = s
        .change_password(b.id, HASH.into(), Some("sb3".into()), T0 + 4)
        .await
        .expect("change");
    assert_eq!(ended, vec!["sb2".to_string()]);
}

async fn invitations_are_accepted_once_before_they_expire(backend: Backend) {
    let (_dir, s) = store(backend).await;
    s.create_invitation(
        1,
        "i@x.io".into(),
        Role::Viewer,
        hash("t1"),
        "key:x".into(),
        T0 + 100,
        T0,
    )
    .await
    .expect("invite");
    let (users, invited) = s.list_users(1, T0 + 50, 100).await.expect("list");
    assert!(users.is_empty());
    assert_eq!(
        invited.iter().map(|i| i.email.as_str()).collect::<Vec<_>>(),
        vec!["i@x.io"]
    );
    assert!(
        s.list_users(1, T0 + 100, 100)
            .await
            .expect("list")
            .1
            .is_empty(),
        "expired"
    );
    assert!(
        s.accept_invitation(hash("t1"), HASH.into(), T0 + 100)
            .await
            .expect("late")
            .is_none()
    );
    // A new invitation replaces the old one.
    s.create_invitation(
        1,
        "i@x.io".into(),
        Role::Operator,
        hash("t2"),
        "key:x".into(),
        T0 + 1_000,
        T0 + 200,
    )
    .await
    .expect("invite again");
    assert!(
        s.invitation(hash("t1"), T0 + 201)
            .await
            .expect("old")
            .is_none()
    );
    let (found, tenant) = s
        .invitation(hash("t2"), T0 + 201)
        .await
        .expect("new")
        .expect("open");
    assert_eq!((found.role, tenant.as_str()), (Role::Operator, "default"));
    let u = s
        .accept_invitation(hash("t2"), HASH.into(), T0 + 300)
        .await
        .expect("accept")
        .expect("user");
    assert_eq!(
        (u.email.as_str(), u.role, u.created_by.as_str()),
        ("i@x.io", Role::Operator, "key:x")
    );
    assert!(
        s.accept_invitation(hash("t2"), HASH.into(), T0 + 301)
            .await
            .expect("twice")
            .is_none()
    );
    assert!(matches!(
        s.create_invitation(
            1,
            "i@x.io".into(),
            Role::Viewer,
            hash("t3"),
            "key:x".into(),
            T0 + 1_000,
            T0
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
}

async fn registering_a_taken_tenant_leaves_nothing_behind(backend: Backend) {
    let (_dir, s) = store(backend).await;
    let u = s
        .register("acme".into(), "me@x.io".into(), HASH.into(), T0)
        .await
        .expect("register");
    assert_eq!((u.tenant.as_str(), u.role), ("acme", Role::Admin));
    assert!(matches!(
        s.register("acme".into(), "other@x.io".into(), HASH.into(), T0)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        s.users_by_email("other@x.io".into(), None, 5)
            .await
            .expect("find")
            .is_empty()
    );
    // The same email in two tenants: found in both, or in the one named.
    user(&s, "me@x.io", Role::Viewer).await;
    assert_eq!(
        s.users_by_email("me@x.io".into(), None, 5)
            .await
            .expect("all")
            .len(),
        2
    );
    let named = s
        .users_by_email("me@x.io".into(), Some("acme".into()), 5)
        .await
        .expect("one");
    assert_eq!(
        named.iter().map(|u| u.tenant.as_str()).collect::<Vec<_>>(),
        vec!["acme"]
    );
}

async fn a_demoted_or_removed_user_keeps_no_key_above_its_role(backend: Backend) {
    let (_d, s) = store(backend).await;
    user(&s, "boss@x.io", Role::Admin).await;
    user(&s, "m@x.io", Role::Admin).await;
    let key = |name: &str, role: Role, by: &str| NewKey {
        name: name.into(),
        role,
        expires_at: None,
        created_by: by.into(),
    };
    let mut made = Vec::new();
    for (name, role, by) in [
        ("m-admin", Role::Admin, "user:m@x.io"),
        ("m-operator", Role::Operator, "user:m@x.io"),
        ("m-viewer", Role::Viewer, "user:m@x.io"),
        ("boss-admin", Role::Admin, "user:boss@x.io"),
    ] {
        let (_, full) = s.create_key(1, key(name, role, by), T0).await.expect("key");
        made.push((name, full));
    }
    let valid = |full: String| {
        let s = s.clone();
        async move {
            matches!(
                s.check_key(full, T0 + 10).await.expect("check"),
                KeyCheck::Valid { .. }
            )
        }
    };
    let (_, _, revoked) = s
        .set_role(1, "m@x.io".into(), Role::Operator, T0 + 1)
        .await
        .expect("demote");
    assert_eq!(revoked, 1);
    let mut left = Vec::new();
    for (name, full) in &made {
        left.push((*name, valid(full.clone()).await));
    }
    assert_eq!(
        left,
        [
            ("m-admin", false),
            ("m-operator", true),
            ("m-viewer", true),
            ("boss-admin", true)
        ]
    );
    let (_, revoked) = s
        .remove_user(1, "m@x.io".into(), T0 + 2)
        .await
        .expect("remove");
    assert_eq!(revoked, 2);
    let mut left = Vec::new();
    for (name, full) in &made {
        left.push((*name, valid(full.clone()).await));
    }
    assert_eq!(
        left,
        [
            ("m-admin", false),
            ("m-operator", false),
            ("m-viewer", false),
            ("boss-admin", true)
        ]
    );
}

async fn a_login_past_the_cap_ends_the_users_oldest_live_session(backend: Backend) {
    let (_d, s) = store(backend).await;
    let u = user(&s, "busy@x.io", Role::Viewer).await;
    let other = user(&s, "calm@x.io", Role::Viewer).await;
    s.create_session(session("calm", &other, T0 + 10_000, None, Some("c")), T0)
        .await
        .expect("session");
    // An expired session does not count.
    s.create_session(session("gone", &u, T0 + 1, None, Some("g")), T0)
        .await
        .expect("session");
    for i in 0..MAX_SESSIONS_PER_USER {
        let ended = s
            .create_session(
                session(
                    &format!("s{i}"),
                    &u,
                    T0 + 10_000,
                    Some(&format!("r{i}")),
                    None,
                ),
                T0 + 2 + i as i64,
            )
            .await
            .expect("session");
        assert!(ended.is_empty(), "{i}: {ended:?}");
    }
    let ended = s
        .create_session(session("new", &u, T0 + 10_000, None, Some("n")), T0 + 100)
        .await
        .expect("session");
    assert_eq!(ended, ["s0"]);
    let live = |id: &str| {
        let s = s.clone();
        let id = id.to_string();
        async move {
            s.session(id)
                .await
                .expect("read")
                .expect("row")
                .live(T0 + 200)
        }
    };
    assert!(!live("s0").await);
    assert!(live("s1").await && live("new").await && live("calm").await);
    let ended = s
        .create_session(session("newer", &u, T0 + 10_000, None, Some("m")), T0 + 101)
        .await
        .expect("session");
    assert_eq!(ended, ["s1"]);
}

async fn ended_sessions_and_spent_invitations_are_deleted_after_a_day(backend: Backend) {
    let (_d, s) = store(backend).await;
    let u = user(&s, "u@x.io", Role::Viewer).await;
    let day = ENDED_LOGINS_KEPT_MS;
    s.create_session(session("expired", &u, T0 + 1_000, Some("r1"), None), T0)
        .await
        .expect("session");
    s.create_session(session("ended", &u, T0 + 10 * day, Some("r2"), None), T0)
        .await
        .expect("session");
    s.create_session(session("live", &u, T0 + 10 * day, Some("r3"), None), T0)
        .await
        .expect("session");
    s.revoke_session("ended".into(), "logout", T0 + 2_000)
        .await
        .expect("revoke");
    for (email, expires) in [("old@x.io", T0 + 1_000), ("open@x.io", T0 + 10 * day)] {
        s.create_invitation(
            1,
            email.into(),
            Role::Viewer,
            hash(email),
            "t".into(),
            expires,
            T0,
        )
        .await
        .expect("invite");
    }
    // Within the day: nothing goes.
    assert_eq!(s.prune_logins(T0 + day).await.expect("prune"), (0, 0));
    assert_eq!(
        s.prune_logins(T0 + 2_001 + day).await.expect("prune"),
        (2, 1)
    );
    assert!(s.session("expired".into()).await.expect("read").is_none());
    assert!(s.session("ended".into()).await.expect("read").is_none());
    assert!(s.session("live".into()).await.expect("read").is_some());
    assert_eq!(
        s.session_of_refresh(hash("r3"))
            .await
            .expect("read")
            .map(|r| r.id),
        Some("live".to_string())
    );
    assert!(
        s.session_of_refresh(hash("r1"))
            .await
            .expect("read")
            .is_none()
    );
    let (_, open) = s.list_users(1, T0 + 2 * day, 10).await.expect("list");
    assert_eq!(open.len(), 1);
    assert_eq!(s.prune_logins(T0 + 3 * day).await.expect("prune"), (0, 0));
}

on_both_backends!(
    refresh_tokens_rotate_once_and_a_reuse_ends_the_session,
    a_session_past_its_expiry_refreshes_nothing_and_its_cookie_is_unknown,
    keys_expire_and_revoke_by_the_clock_given,
    the_last_admin_stays_and_changes_end_sessions,
    invitations_are_accepted_once_before_they_expire,
    registering_a_taken_tenant_leaves_nothing_behind,
    a_demoted_or_removed_user_keeps_no_key_above_its_role,
    a_login_past_the_cap_ends_the_users_oldest_live_session,
    ended_sessions_and_spent_invitations_are_deleted_after_a_day,
);
