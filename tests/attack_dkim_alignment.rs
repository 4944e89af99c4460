//! Rule 6 with `security.trusted_authserv_id` set: "DKIM pass with header.d aligned to the From
//! domain (same organisational domain: the last two labels, three under a short list of suffixes
//! such as co.uk)". The short list misses most multi-label public suffixes (co.at, or.at, com.pl,
//! ac.nz, co.kr, ac.jp, asso.fr, org.za, com.ar, ac.il, …, and the private part of the Public
//! Suffix List such as github.io or nl.eu.org). For a role address under one of them, anyone who
//! registers another domain under the same suffix and signs with it passes as that role: a
//! forged From plus the attacker's own valid DKIM signature changes the case.
//!
//! Reproduce: roles.staff = anna@school.co.at, trusted_authserv_id = mx.example.org; a complaint;
//! a mail with `Authentication-Results: mx.example.org; dkim=pass header.d=evil.co.at` (exactly
//! what the trusted server writes for evil.co.at's valid signature), `From: anna@school.co.at`,
//! subject tag of the case, `Oorzaak: …`. The cause is set (with school.co.uk/evil.co.uk it is
//! held).

mod attack_lab;

use attack_lab::Lab;

fn forged_with_own_dkim(suffix: &str) -> serde_json::Value {
    let staff = format!("anna@school.{suffix}");
    let mut lab = Lab::new(&[
        ("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", "mx.example.org"),
        ("KLACHTD__ROLES__STAFF", staff.as_str()),
    ]);
    lab.complaint("klager1@example.net", 1);
    lab.run();
    lab.deliver(&format!(
        "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=evil.{suffix}; \
         dkim=pass header.d=evil.{suffix} header.i=@evil.{suffix}\n\
         From: Anna <{staff}>\nTo: info@example.org\nSubject: Re: [KL-2026-0001] Klacht 1\n\
         Message-ID: <dkim@evil.{suffix}>\n\nOorzaak: vervalst met eigen DKIM\n"
    ));
    lab.run();
    lab.case_json("KL-2026-0001")["case"]["cause"].clone()
}

#[test]
fn a_dkim_signature_of_another_domain_under_co_at_proves_nothing() {
    let cause = forged_with_own_dkim("co.at");
    assert!(
        cause.is_null(),
        "evil.co.at's signature was taken as anna@school.co.at's: {cause}"
    );
}

#[test]
fn a_dkim_signature_of_another_domain_under_ac_nz_proves_nothing() {
    let cause = forged_with_own_dkim("ac.nz");
    assert!(
        cause.is_null(),
        "evil.ac.nz's signature was taken as anna@school.ac.nz's: {cause}"
    );
}

/// Control: a suffix on the list (passes today).
#[test]
fn control_a_dkim_signature_of_another_domain_under_co_uk_proves_nothing() {
    let cause = forged_with_own_dkim("co.uk");
    assert!(cause.is_null(), "{cause}");
}
