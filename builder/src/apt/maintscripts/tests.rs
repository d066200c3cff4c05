//! Excerpts of bookworm's real maintainer scripts (`apt-get download`, `dpkg-deb -e`),
//! cut to the lines that matter, indentation and quoting kept.

use super::*;

fn names(script: &str, action: &str) -> Vec<String> {
    script_effects(script, action)
        .iter()
        .map(Effect::name)
        .collect()
}

/// ca-certificates 20250419~deb12u2, postinst.
const CA_CERTIFICATES_POSTINST: &str = r#"#! /bin/sh
# postinst script for ca-certificates
set -e

each_value() {
 echo "$1" |tr ',' '\n' | sed -e 's/^[[:space:]]*//' 
}

case "$1" in
    configure)
        if [ ! -e /usr/local/share/ca-certificates ]; then
            if mkdir -m $(stat -L -c %a /usr/local) /usr/local/share/ca-certificates 2>/dev/null; then
                chgrp $(stat -L -c %g /usr/local) /usr/local/share/ca-certificates
            fi
        elif ! dpkg-statoverride --list /usr/local/share/ca-certificates >/dev/null; then
            chmod $(stat -L -c %a /usr/local) /usr/local/share/ca-certificates || true
        fi

        . /usr/share/debconf/confmodule
	db_version 2.0
	CERTS_AVAILABLE="$RET"
	db_stop || true
	if test -f /etc/ca-certificates.conf; then
	  :
	else
	  # new file
	  cat > /etc/ca-certificates.conf <<EOF
# This file lists certificates that you wish to use or to ignore to be
# installed in /etc/ssl/certs.
EOF
	fi
	if dpkg --compare-versions "$2" lt-nl 20111025; then
	    update-ca-certificates --hooksdir "" --fresh
	else
	    update-ca-certificates --hooksdir ""
	fi
	dpkg-trigger --no-await update-ca-certificates
    ;;

    triggered)
	for trigger in $2; do
	    case "$trigger" in
		update-ca-certificates-fresh)
		    update-ca-certificates --fresh
		    ;;
		*)
		    echo "postinst called with unknown trigger \`$2'">&2
		    exit 1
		    ;;
	    esac;
	done;
	;;

    abort-upgrade|abort-remove|abort-deconfigure)

    ;;

    *)
        echo "postinst called with unknown argument \`$1'" >&2
        exit 1
    ;;
esac

exit 0
"#;

#[test]
fn ca_certificates_cannot_be_reproduced() {
    let n = names(CA_CERTIFICATES_POSTINST, "configure");
    assert_eq!(n[0], "update-ca-certificates");
    for e in ["debconf", "dpkg-statoverride", "mkdir", "chgrp", "chmod"] {
        assert!(n.contains(&e.to_string()), "{e}: {n:?}");
    }
    assert!(n.contains(&"writes /etc/ca-certificates.conf".to_string()));
    assert!(n.contains(&"trigger update-ca-certificates".to_string()));
    // Neither the here-document nor the `triggered` branch is read as commands.
    assert!(
        !n.iter().any(|e| e.contains("This") || e.contains("exit")),
        "{n:?}"
    );
    assert_eq!(
        commands(CA_CERTIFICATES_POSTINST, "configure")
            .iter()
            .filter(|c| c[0] == "update-ca-certificates")
            .count(),
        2
    );
    let triggers = "interest update-ca-certificates\ninterest update-ca-certificates-fresh\n";
    assert_eq!(
        unreproduced_triggers(triggers),
        [
            "trigger update-ca-certificates",
            "trigger update-ca-certificates-fresh"
        ]
    );
}

/// less 590-2.1~deb12u2: postinst and preinst, whole but for blank lines.
const LESS_POSTINST: &str = r#"#!/bin/sh

set -e

case "$1" in
  configure)
    update-alternatives --quiet --install /usr/bin/pager pager \
      /usr/bin/less 77 --slave /usr/share/man/man1/pager.1.gz \
      pager.1.gz /usr/share/man/man1/less.1.gz
  ;;
  abort-upgrade|abort-remove|abort-deconfigure)
  ;;
  *)
    echo "postinst called with unknown argument \`$1'" >&2
    exit 0
  ;;
esac

exit 0
"#;

const LESS_PREINST: &str = r#"#!/bin/sh

set -e

case "$1" in
  upgrade)
    if dpkg --compare-versions "$2" lt "551-1~"; then
      update-alternatives --quiet --remove pager /bin/less
    fi
  ;;
  install|abort-upgrade)
  ;;
  *)
    echo "preinst called with unknown argument \`$1'" >&2
    exit 0
  ;;
esac

exit 0
"#;

#[test]
fn less_is_all_applied() {
    assert!(names(LESS_POSTINST, "configure").is_empty());
    assert!(names(LESS_PREINST, "install").is_empty());
    // The `upgrade)` branch is skipped, `install|abort-upgrade)` taken, `*)` not.
    let c = commands(LESS_PREINST, "install");
    assert_eq!(c, [vec!["set", "-e"], vec!["exit", "0"]]);
    // A computed `--install` in a branch a fresh install takes is an effect.
    let computed = LESS_POSTINST.replace("/usr/bin/less 77", "/usr/bin/$x 77");
    assert_eq!(
        names(&computed, "configure"),
        ["update-alternatives with computed arguments"]
    );
}

/// procps 2:4.0.2-3, postinst (its functions, the `configure` branch's shape and the
/// debhelper sections).
const PROCPS_POSTINST: &str = r#"#!/bin/sh
set -e
mv_conffile() {
  OLDCONFFILE="$1"
  NEWCONFFILE="$2"
  if [ -e "$OLDCONFFILE" ]; then
    echo "Preserving user changes to $NEWCONFFILE ..."
    mv -f "$NEWCONFFILE" "$NEWCONFFILE".dpkg-new
  fi
}
check_alternatives() {
  BINNAME="$1"
  BINPATH="$2"
  MANSEC="$3"
  if [ -e "$BINPATH"/"$BINNAME".procps ] ; then
	update-alternatives --install "$BINPATH"/"$BINNAME" "$BINNAME" \
	    "$BINPATH"/"$BINNAME".procps 50 \
		--slave /usr/share/man/man"$MANSEC"/"$BINNAME"."$MANSEC".gz "$BINNAME"."$MANSEC".gz \
		/usr/share/man/man"$MANSEC"/"$BINNAME".procps."$MANSEC".gz
  fi
}
case "$1" in
    configure|abort-remove|abort-deconfigure)
		if [ -e /etc/psdevtab ] ; then
			rm -f /etc/psdevtab
		fi
       if [ -L /etc/rcS.d/S30procps.sh ]
       then
          update-rc.d -f procps.sh remove >/dev/null
       fi
	   if dpkg --compare-versions "$2" le "1:3.2.7-3"; then
		 mv_conffile "/etc/init.d/procps.sh" "/etc/init.d/procps"
	   fi
	   if dpkg --compare-versions "$2" le "2:3.3.17-4"; then
	       update-alternatives --remove w /usr/bin/w.procps
	   fi
		check_alternatives "uptime" "/usr/bin" "1"
    ;;
    abort-upgrade)
	    # Nothing to do
    ;;
esac
# Automatically added by dh_installdeb/13.11.3
dpkg-maintscript-helper rm_conffile /etc/sysctl.d/protect-links.conf 2:3.3.16-4\~ procps -- "$@"
# End automatically added section
# Automatically added by dh_installinit/13.11.3
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	if [ -x "/etc/init.d/procps" ]; then
		update-rc.d procps defaults >/dev/null || exit 1
	fi
fi
# End automatically added section
exit 0
"#;

/// procps 2:4.0.2-3, preinst.
const PROCPS_PREINST: &str = r#"#!/bin/sh
set -e
# Automatically added by dh_installdeb/13.11.3
dpkg-maintscript-helper rm_conffile /etc/sysctl.d/protect-links.conf 2:3.3.16-4\~ procps -- "$@"
# End automatically added section
# Automatically added by dh_installinit/13.11.3
if [ "$1" = "install" ] && [ -n "$2" ] && [ -e "/etc/init.d/procps" ] ; then
	chmod +x "/etc/init.d/procps" >/dev/null || true
fi
# End automatically added section
"#;

#[test]
fn procps_leaves_what_its_review_covers() {
    // No-ops (init scripts, dpkg-maintscript-helper) are dropped; what is left depends
    // on the image (`rm`) or on review (see configure::REVIEWED).
    assert_eq!(
        names(PROCPS_POSTINST, "configure"),
        [
            "mv",
            "update-alternatives with computed arguments",
            "rm /etc/psdevtab"
        ]
    );
    assert_eq!(names(PROCPS_PREINST, "install"), ["chmod"]);
}

/// python3 3.11.2-1+b1, postinst (a here-document into a file, a hook loop).
const PYTHON3_POSTINST: &str = r#"#! /bin/sh
set -e

new_config_file()
{
    cat > /etc/python3/debian_config <<-EOF
	[DEFAULT]
	# how to byte-compile (comma separated: standard, optimize)
	byte-compile = standard
	EOF
}

case "$1" in
    configure)
	[ -d /etc/python3 ] || mkdir /etc/python3
	[ -f /etc/python3/debian_config ] || new_config_file

	oldv=$(echo $2 | sed 's/^\(...\).*/\1/')
	for hook in /usr/share/python3/runtime.d/*.rtupdate; do
	    [ -x $hook ] || continue
	    if ! $hook rtupdate python$oldv python3.11; then
	        hb=$(basename $hook .rtupdate)
	        errors=yes
	    fi
	done
	[ -z "$errors" ] || exit 4
esac

if which py3compile >/dev/null 2>&1; then
	py3compile -p python3 /usr/share/python3/
fi
"#;

#[test]
fn python3_files_dirs_and_hooks() {
    assert_eq!(
        script_effects(PYTHON3_POSTINST, "configure"),
        [
            Effect::Other("writes /etc/python3/debian_config".into()),
            Effect::MakeDir(vec!["/etc/python3".into()]),
            Effect::Other("runs $hook".into()),
        ]
    );
    // The bytes scripts::MADE writes are the here-document's, tabs stripped by `<<-`.
    let made = crate::apt::scripts::MADE
        .iter()
        .find(|(p, _, _)| *p == "python3")
        .unwrap();
    let doc: String = PYTHON3_POSTINST
        .lines()
        .skip_while(|l| !l.contains("<<-EOF"))
        .skip(1)
        .take_while(|l| l.trim() != "EOF")
        .map(|l| format!("{}\n", l.trim_start_matches('\t')))
        .collect();
    let crate::apt::scripts::Made::Bytes(bytes) = made.2 else {
        panic!("python3's debian_config is not bytes: {:?}", made.2)
    };
    assert_eq!(bytes, doc.as_bytes());
    // python3.11-minimal 3.11.2-6+deb12u9, preinst's `install)` branch.
    let pre = "case \"$1\" in\n    install)\n\tmkdir -p /var/lib/python\n\ttouch /var/lib/python/python3.11_installed\n    ;;\n    upgrade)\n\t:\n    ;;\nesac\n";
    assert_eq!(
        script_effects(pre, "install"),
        [
            Effect::MakeDir(vec!["/var/lib/python".into()]),
            Effect::Touch(vec!["/var/lib/python/python3.11_installed".into()]),
        ]
    );
    // python3.11 3.11.2-6+deb12u9: byte-compilation by the interpreter is a cache.
    let compile = "    files=$(dpkg -L libpython3.11-stdlib:amd64 | sed -n '/^\\/usr\\/lib\\/python3.11\\/.*\\.py$/p')\n    if [ -n \"$files\" ]; then\n\t/usr/bin/python3.11 -E -S /usr/lib/python3.11/py_compile.py $files\n    fi\n";
    assert!(names(compile, "configure").is_empty());
}

#[test]
fn substitutions_arithmetic_and_named_effects() {
    // unzip 6.0-28+deb12u1: a substitution inside double quotes.
    let unzip = "set -e\nif [ \"$1\" = \"configure\" ] && [ -x \"`which update-mime 2> /dev/null`\" ]; then\n  update-mime\nfi\n";
    assert_eq!(names(unzip, "configure"), ["update-mime"]);
    // ucf 3.0043+nmu1+deb12u1, preinst: arithmetic is part of a word.
    let ucf = "      for i in $(seq 6 -1 0); do\n\t  mv \"${statedir}/hashfile.$i\" \"${statedir}/hashfile.$(($i+1))\"\n      done\n";
    assert_eq!(names(ucf, "install"), ["seq", "mv"]);
    // Named effects come first, in their table's order.
    let s = "useradd -r spark\nfoo --bar\n. /usr/share/debconf/confmodule\necho x >> /etc/motd\n";
    assert_eq!(
        names(s, "configure"),
        ["useradd", "debconf", "foo", "writes /etc/motd"]
    );
    // Redirections to /dev/null or descriptors write nothing; `sed -i` does.
    assert!(names(
        "grep -q x /etc/y >/dev/null 2>&1\necho >&2 no\n",
        "configure"
    )
    .is_empty());
    assert_eq!(names("sed -i s/a/b/ /etc/x\n", "configure"), ["sed"]);
}

#[test]
fn triggers_ldconfig_is_handled_others_named() {
    // libjq1 1.6-2.1+deb12u3 (as every shared library), libc-bin, fontconfig.
    let libjq1 = "# Triggers added by dh_makeshlibs/13.11.4\nactivate-noawait ldconfig\n";
    assert!(unreproduced_triggers(libjq1).is_empty());
    assert!(unreproduced_triggers("interest-await ldconfig\n").is_empty());
    assert_eq!(
        unreproduced_triggers("interest-noawait /usr/share/fonts\n"),
        ["trigger /usr/share/fonts"]
    );
    assert!(names("dpkg-trigger --no-await ldconfig\nldconfig\n", "configure").is_empty());
    assert_eq!(
        names("dpkg-trigger --no-await update-foo\n", "configure"),
        ["trigger update-foo"]
    );
}
