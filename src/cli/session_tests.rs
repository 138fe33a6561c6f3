use super::*;

fn login(url: &str) -> SavedLogin {
    let now = Utc::now();
    SavedLogin {
        url: url.into(),
        access_token: "ACCESS-SECRET".into(),
        access_expires_at: now + chrono::Duration::minutes(15),
        refresh_token: "REFRESH-SECRET".into(),
        refresh_expires_at: now + chrono::Duration::days(7),
        email: "me@example.com".into(),
        tenant: "default".into(),
    }
}

#[test]
fn file_names_never_leave_the_tokens_directory() {
    let url = parse_base_url("http://127.0.0.1:8080").unwrap();
    assert_eq!(Slot::Context("prod".into()).file_name(), "prod.json");
    for hostile in ["../x", "a/b", ".hidden", "..", "a\\b", "ünï", ""] {
        let name = Slot::Context(hostile.into()).file_name();
        assert!(
            name.starts_with("context-") && !name.contains('/'),
            "{name}"
        );
    }
    let by_url = Slot::Url(url.clone()).file_name();
    assert!(by_url.starts_with("url-") && by_url.ends_with(".json"));
    assert_ne!(
        by_url,
        Slot::Url(parse_base_url("http://127.0.0.1:8081").unwrap()).file_name()
    );
}

#[test]
fn saves_owner_only_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join(".uptimeping/tokens");
    let store = Store::new(&tokens, Slot::Context("prod".into()));
    assert_eq!(store.load().unwrap(), None);
    let saved = login("http://127.0.0.1:8080/");
    store.save(&saved).unwrap();
    assert_eq!(store.load().unwrap(), Some(saved.clone()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store.path), 0o600);
        assert_eq!(mode(&tokens), 0o700);
    }
    assert!(store.delete().unwrap());
    assert!(!store.delete().unwrap());
}

#[cfg(unix)]
#[test]
fn a_login_file_open_to_others_is_narrowed_before_use() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path(), Slot::Context("prod".into()));
    let saved = login("http://127.0.0.1:8080/");
    store.save(&saved).unwrap();
    for loose in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&store.path, std::fs::Permissions::from_mode(loose)).unwrap();
        assert_eq!(store.load().unwrap(), Some(saved.clone()));
        let mode = std::fs::metadata(&store.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "from {loose:o}");
    }
}

#[test]
fn debug_never_shows_the_tokens() {
    let text = format!("{:?}", login("http://u:PASS@h:1/"));
    assert!(!text.contains("SECRET") && !text.contains("PASS"), "{text}");
}

#[test]
fn a_login_is_for_its_own_url_only() {
    let l = login("http://127.0.0.1:8080/");
    assert!(l.is_for(&parse_base_url("http://127.0.0.1:8080").unwrap()));
    assert!(!l.is_for(&parse_base_url("http://127.0.0.1:8081").unwrap()));
    assert!(!l.is_for(&parse_base_url("https://127.0.0.1:8080").unwrap()));
}

#[test]
fn expiring_and_ended_are_judged_by_the_saved_times() {
    let mut l = login("http://h:1/");
    let now = Utc::now();
    assert!(!l.access_expiring(now) && !l.ended(now));
    l.access_expires_at = now + chrono::Duration::seconds(29);
    assert!(l.access_expiring(now));
    l.refresh_expires_at = now;
    assert!(l.ended(now));
}

#[test]
fn a_second_lock_waits_for_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path(), Slot::Context("prod".into()));
    crate::cli::client::block_on(async {
        let first = store.lock().await.unwrap();
        let again = File::open(&store.lock_path).unwrap();
        assert!(matches!(
            again.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        drop(first);
        assert!(again.try_lock().is_ok());
    })
    .unwrap();
}

#[test]
fn an_oversized_or_foreign_file_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path(), Slot::Context("prod".into()));
    std::fs::write(&store.path, "{\"not\": \"a login\"}").unwrap();
    let err = format!("{:#}", store.load().unwrap_err());
    assert!(err.contains("uptimeping auth login"), "{err}");
    std::fs::write(&store.path, vec![b' '; MAX_LOGIN_FILE_BYTES as usize + 1]).unwrap();
    let err = format!("{:#}", store.load().unwrap_err());
    assert!(err.contains("larger than"), "{err}");
}

fn pair(access: &str, expires_in: u64, refresh_expires_in: u64) -> TokenPair {
    TokenPair {
        access_token: access.into(),
        refresh_token: "uprt_x".into(),
        token_type: "Bearer".into(),
        expires_in,
        refresh_expires_in,
        user: crate::model::Whoami {
            kind: "user".into(),
            id: "1".into(),
            name: "me@example.com".into(),
            tenant: "default".into(),
            tenant_id: 1,
            role: crate::model::Role::Operator,
            permissions: Vec::new(),
            expires_at: None,
        },
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..Default::default()
    })]

    /// Whatever lifetimes a daemon claims, the login's expiries are counted
    /// without overflow and kept within the CLI's bounds.
    #[test]
    fn any_lifetime_is_bounded_without_overflow(
        access in proptest::prelude::any::<u64>(),
        refresh in 1..=u64::MAX,
    ) {
        let url = parse_base_url("http://127.0.0.1:1").unwrap();
        let now = Utc::now();
        let l = SavedLogin::from_pair(&url, &pair("eyJ.a", access, refresh), now).unwrap();
        let most = |d: Duration| now + chrono::Duration::from_std(d).unwrap();
        proptest::prop_assert!(l.access_expires_at <= most(MAX_ACCESS_LIFETIME));
        proptest::prop_assert!(l.refresh_expires_at <= most(MAX_LOGIN_LIFETIME));
        proptest::prop_assert!(l.access_expires_at >= now && l.refresh_expires_at > now);
    }
}

#[test]
fn a_token_pair_that_cannot_be_sent_or_kept_is_refused() {
    let url = parse_base_url("http://127.0.0.1:1").unwrap();
    let now = Utc::now();
    let long = "a".repeat(MAX_TOKEN_BYTES + 1);
    for bad in [long.as_str(), "", "a b", "a\nb", "a\u{1b}[31m", "ünï"] {
        assert!(
            SavedLogin::from_pair(&url, &pair(bad, 900, 3600), now).is_err(),
            "{bad:?}"
        );
    }
    let fits = "a".repeat(MAX_TOKEN_BYTES);
    assert!(SavedLogin::from_pair(&url, &pair(&fits, 900, 3600), now).is_ok());
    assert!(SavedLogin::from_pair(&url, &pair("a", 900, 0), now).is_err());
    let mut odd = pair("a", 900, 3600);
    odd.user.name = "me\u{1b}]0;owned\u{7}@example.com".into();
    assert!(SavedLogin::from_pair(&url, &odd, now).is_err());
}

#[test]
fn a_login_that_could_not_be_read_back_is_not_saved() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path(), Slot::Context("prod".into()));
    let path = "p".repeat(MAX_LOGIN_FILE_BYTES as usize);
    let err = store
        .save(&login(&format!("http://127.0.0.1:1/{path}")))
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("more than a saved login can be"),
        "{err:#}"
    );
    assert_eq!(store.load().unwrap(), None);
}

#[cfg(unix)]
#[test]
fn links_and_other_files_in_place_of_the_login_or_its_lock_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path(), Slot::Context("prod".into()));
    let other = dir.path().join("other");
    std::fs::write(&other, "x").unwrap();
    std::os::unix::fs::symlink(&other, &store.lock_path).unwrap();
    let err = crate::cli::client::block_on(store.lock())
        .unwrap()
        .unwrap_err();
    assert!(format!("{err:#}").contains("is a symbolic link"), "{err:#}");
    std::os::unix::fs::symlink(&other, &store.path).unwrap();
    let err = store.check_can_save().unwrap_err();
    assert!(format!("{err:#}").contains("is a symbolic link"), "{err:#}");
    // A FIFO would block a reader that waits for a writer; it is refused.
    std::fs::remove_file(&store.path).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&store.path)
        .status()
        .expect("mkfifo (coreutils) runs");
    assert!(made.success());
    let err = store.load().unwrap_err();
    assert!(format!("{err:#}").contains("not a plain file"), "{err:#}");
    assert!(store.check_can_save().is_err());
}
