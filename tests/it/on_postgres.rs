//! Daemon tests of the store's whole range (alerts, incidents, applies and plans,
//! rollups and reports, logins) run again with the state in PostgreSQL: each
//! runs its daemons with `--store` on a fresh database of the test server. Tests
//! that read or change the SQLite file behind the daemon's back are not here.

use crate::daemon_support::on_postgres;

macro_rules! on_postgres {
    ($($module:ident::$name:ident),+ $(,)?) => {
        mod postgres_tests {
            $(
                #[test]
                fn $name() {
                    super::on_postgres(crate::$module::$name)
                }
            )+
        }
    };
}

on_postgres!(
    daemon_alerts::an_outage_sends_exactly_one_opened_and_one_resolved,
    daemon_alerts::a_daemon_killed_before_delivery_delivers_after_restart_once_per_key,
    daemon_alerts::channels_test_sends_a_real_message_and_reports_the_outcome,
    daemon_alerts::a_daemon_killed_mid_burst_sends_the_rest_after_restart_once_per_key,
    daemon_alerts::a_maintenance_window_applied_from_files_holds_alerts_but_not_results,
    daemon_runs::a_check_runs_on_its_schedule_and_pause_and_resume_take_effect_at_once,
    daemon_runs::an_incident_opens_after_the_threshold_and_resolves_with_every_step_recorded,
    daemon_runs::a_changed_failure_is_an_event_of_the_same_incident,
    daemon_runs::severity_steps_up_while_an_incident_stays_open,
    daemon_runs::removing_a_check_resolves_its_open_incident,
    incident_updates::an_update_is_stored_listed_and_sent_once_through_each_channel_linking_the_status_page,
    daemon_apply::plan_after_apply_is_empty_and_an_edit_names_the_field,
    daemon_apply::prune_deletes_only_this_sources_resources_and_others_are_conflicts,
    daemon_apply::an_empty_input_never_prunes_everything_without_allow_empty,
    daemon_apply::a_saved_plan_is_refused_once_the_state_moved,
    daemon_apply::secrets_never_come_back_but_a_changed_secret_shows_as_changed,
    daemon_apply::apply_is_all_or_nothing,
    daemon_apply::a_saved_plan_made_for_one_tenant_is_refused_by_another,
    daemon_apply::an_apply_answers_with_the_changes_its_plan_showed_secrets_masked,
    auth::a_user_logs_in_and_the_token_carries_who_they_are,
    auth::refresh_rotates_and_an_old_refresh_token_again_ends_the_whole_family,
    auth::an_invitation_becomes_a_user_once,
    auth::a_password_change_needs_the_current_one_and_ends_the_other_sessions,
);
