//! Small real file systems for the disk tests (issue 20): a size-limited tmpfs, or an ext4 image
//! on a loop device (no blocks reserved for root, so it fills for root too), mounted under a
//! temporary directory on 127.0.0.1's own machine — as root, as the mail servers need. It can be
//! filled to the last block, given its space back, and remounted read-only and back. It is
//! unmounted when dropped, also when the test fails (a panic unwinds through the drop); a mount
//! left by a test process that was killed is unmounted by the next one that starts.
#![allow(dead_code)] // each test binary uses a different part of the helpers

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Names every mount point, so a later run can find those of dead test processes.
const MARK: &str = "klachtd-smallfs-";

pub struct SmallFs {
    /// Where it is mounted.
    pub dir: PathBuf,
    /// Holds the mount point (and the ext4 image), removed after the unmount.
    base: Option<tempfile::TempDir>,
    /// The ext4 image, for one on a loop device.
    image: Option<PathBuf>,
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Panics with what to do when small file systems cannot be made here (never skips).
fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the disk tests mount small file systems and must run as root (scripts/test does)"
    );
}

/// Unmounts what test processes that no longer run left mounted.
fn clean_stale() {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    for line in mounts.lines() {
        let Some(point) = line.split(' ').nth(1) else {
            continue;
        };
        let Some(rest) = point.split(MARK).nth(1) else {
            continue;
        };
        let pid: Option<i32> = rest.split('-').next().and_then(|p| p.parse().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let point = point.replace("\\040", " ");
            let _ = run(Command::new("umount").arg("-l").arg(&point));
        }
    }
}

impl SmallFs {
    fn base() -> tempfile::TempDir {
        require_root();
        clean_stale();
        tempfile::Builder::new()
            .prefix(&format!("{MARK}{}-", std::process::id()))
            .tempdir()
            .unwrap()
    }

    /// A tmpfs of `kib` KiB.
    pub fn tmpfs(kib: u64) -> SmallFs {
        let base = Self::base();
        let dir = base.path().join("fs");
        std::fs::create_dir(&dir).unwrap();
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k,mode=0700")])
            .arg("tmpfs")
            .arg(&dir))
        .unwrap_or_else(|e| panic!("mounting a tmpfs: {e}"));
        SmallFs {
            dir,
            base: Some(base),
            image: None,
        }
    }

    /// An ext4 file system of `kib` KiB on a loop device (1 KiB blocks, none reserved).
    pub fn ext4(kib: u64) -> SmallFs {
        let base = Self::base();
        let image = base.path().join("image");
        let dir = base.path().join("fs");
        std::fs::create_dir(&dir).unwrap();
        std::fs::File::create(&image)
            .unwrap()
            .set_len(kib * 1024)
            .unwrap();
        run(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-m", "0", "-b", "1024", "-O", "^has_journal"])
            .arg(&image))
        .unwrap_or_else(|e| panic!("making an ext4 file system (e2fsprogs): {e}"));
        run(Command::new("mount")
            .args(["-o", "loop,errors=remount-ro"])
            .arg(&image)
            .arg(&dir))
        .unwrap_or_else(|e| panic!("mounting an ext4 image on a loop device: {e}"));
        SmallFs {
            dir,
            base: Some(base),
            image: Some(image),
        }
    }

    /// An ext4 file system hits an error (as a failing disk makes it): the kernel takes it
    /// read-only at once, under every file open on it.
    pub fn fail(&self) {
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let dir = self.dir.to_string_lossy().replace(' ', "\\040");
        let device = mounts
            .lines()
            .find(|l| l.split(' ').nth(1) == Some(dir.as_str()))
            .and_then(|l| l.split(' ').next())
            .expect("mounted");
        let name = Path::new(device).file_name().unwrap().to_string_lossy();
        std::fs::write(format!("/sys/fs/ext4/{name}/trigger_fs_error"), "1")
            .expect("ext4's trigger_fs_error");
    }

    /// What an administrator does after such an error: unmounts the file system (which works
    /// only when nothing has a file open on it: a process that still does makes this fail),
    /// checks and repairs it, and mounts it again.
    pub fn repair_and_remount(&self) {
        let image = self.image.as_ref().expect("an ext4 image");
        // A moment's file (a look at the lock) may be open just then: tried again briefly.
        let mut unmounted = run(Command::new("umount").arg(&self.dir));
        for _ in 0..50 {
            if unmounted.is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            unmounted = run(Command::new("umount").arg(&self.dir));
        }
        unmounted.unwrap_or_else(|e| panic!("unmounting the failed file system: {e}"));
        let _ = Command::new("e2fsck")
            .args(["-f", "-y"])
            .arg(image)
            .output();
        run(Command::new("mount")
            .args(["-o", "loop,errors=remount-ro"])
            .arg(image)
            .arg(&self.dir))
        .unwrap_or_else(|e| panic!("mounting the repaired image: {e}"));
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.join(p)
    }

    /// Takes every free block (a file of zeros written until the disk refuses).
    pub fn fill(&self) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(".filler"))
            .unwrap();
        let chunk = vec![0u8; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOSPC.raw_os_error()) => {
                    break;
                }
                Err(e) => panic!("filling {}: {e}", self.dir.display()),
            }
        }
        // The last partial block, and what is left for small files.
        for size in [1024, 256, 64, 16, 1] {
            while f.write(&chunk[..size]).is_ok_and(|n| n > 0) {}
        }
        let _ = f.sync_all();
    }

    /// Gives the space back.
    pub fn free(&self) {
        std::fs::remove_file(self.dir.join(".filler")).unwrap();
    }

    /// Free bytes as the file system reports them.
    pub fn available(&self) -> u64 {
        let st = rustix::fs::statvfs(&self.dir).unwrap();
        st.f_bavail * st.f_frsize
    }

    /// Remounts it read-only (nothing may have a file on it open for writing).
    pub fn read_only(&self) {
        run(Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.dir))
        .unwrap_or_else(|e| panic!("remounting read-only: {e}"));
    }

    /// Remounts it writable again.
    pub fn writable(&self) {
        run(Command::new("mount")
            .args(["-o", "remount,rw"])
            .arg(&self.dir))
        .unwrap_or_else(|e| panic!("remounting writable: {e}"));
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        if run(Command::new("umount").arg(&self.dir)).is_err() {
            // Something still has a file open on it (a process the test could not stop):
            // detach it now; the kernel frees it when the last file closes.
            let _ = run(Command::new("umount").arg("-l").arg(&self.dir));
        }
        drop(self.base.take());
    }
}
