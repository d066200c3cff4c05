//! Users and groups without NSS: passwd/group parsing, random-UID passwd entries,
//! and the root → `SPARK_RUN_AS` switch.
//!
//! **Invariant:** never call getpwnam/getpwuid/getgrnam/initgroups here. In a static
//! glibc binary they dlopen NSS modules and crash for unknown uids (init.md P20); we
//! read /etc/passwd and /etc/group ourselves.

// Implemented in a follow-up commit of this issue.
