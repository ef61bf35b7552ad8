// Command guestinit is /init of test/vm's initramfs: it mounts the kernel filesystems, loads the
// modules named in /stoa-vm.json (dependencies first, as the host resolved them), runs each test
// binary with its output going straight to the serial console, prints one machine-readable
// result line per binary and powers the machine off. Built static (CGO_ENABLED=0).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/stoa-rooms/stoa/test/vm/vmkit"
)

func main() {
	err := run()
	if err != nil {
		fmt.Printf("\nSTOA-VM INIT-FAIL %v\n", err)
	}
	syscall.Sync()
	// Power off; with QEMU's -no-reboot this ends QEMU. If it fails, returning from init panics
	// the kernel, which (panic=-1, -no-reboot) also ends QEMU.
	_ = syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	os.Exit(1)
}

func run() error {
	for _, m := range []struct{ fstype, target, data string }{
		{"proc", "/proc", ""},
		{"sysfs", "/sys", ""},
		{"devtmpfs", "/dev", ""},
		{"devpts", "/dev/pts", "ptmxmode=0666"},
		{"tmpfs", "/dev/shm", ""},
		{"tmpfs", "/tmp", ""},
		{"tmpfs", "/run", ""},
	} {
		if err := mount(m.fstype, m.target, m.data); err != nil {
			return err
		}
	}
	fmt.Printf("%s %s\n", vmkit.MarkBooted, uptime())
	b, err := os.ReadFile("/stoa-vm.json")
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	var cfg vmkit.GuestConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("parse config: %w", err)
	}
	if err := loopbackUp(); err != nil {
		fmt.Printf("STOA-VM WARN loopback: %v\n", err)
	}
	start := time.Now()
	loaded := 0
	for _, m := range cfg.Modules {
		if err := loadModule(m.Path, m.Params); err != nil {
			fmt.Printf("%s %s %v\n", vmkit.MarkModuleFail, m.Name, err)
			continue
		}
		loaded++
	}
	fmt.Printf("%s %d %s\n", vmkit.MarkModules, loaded, time.Since(start).Round(time.Millisecond))
	for _, m := range cfg.Mounts {
		if err := mount(m.FSType, m.Target, ""); err != nil {
			fmt.Printf("STOA-VM WARN %v\n", err)
		}
	}
	env := append([]string{"PATH=/usr/bin:/bin", "HOME=/root", "TMPDIR=/tmp", "USER=root", "LANG=C.UTF-8"}, cfg.Env...)
	var failed []string
	for _, t := range cfg.Tests {
		if !runTest(t, env) {
			failed = append(failed, t.Name)
		}
	}
	fmt.Printf("%s %s\n", vmkit.MarkDone, strings.Join(failed, ","))
	return nil
}

// runTest runs one test binary with stdout and stderr on the console (inherited file
// descriptors: the host sees output live, no copying here).
func runTest(t vmkit.GuestTest, env []string) bool {
	fmt.Printf("%s %s\n", vmkit.MarkStart, t.Name)
	start := time.Now()
	cmd := exec.Command(t.Path, t.Args...)
	cmd.Dir = t.Dir
	cmd.Env = env
	cmd.Stdin = nil
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stdout
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		fmt.Printf("STOA-VM WARN run %s: %v\n", t.Name, err)
		code = 127
	}
	verdict := "ok"
	if code != 0 {
		verdict = "FAIL"
	}
	fmt.Printf("\n%s %s %s %d %s\n", vmkit.MarkResult, t.Name, verdict, code, time.Since(start).Round(time.Millisecond))
	return code == 0
}

func mount(fstype, target, data string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("mount %s: %w", target, err)
	}
	if err := syscall.Mount(fstype, target, fstype, 0, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype, target, err)
	}
	return nil
}

// loadModule calls finit_module; a module that is already there (built in, or loaded as a
// dependency another way) is fine.
func loadModule(path, params string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	p, err := syscall.BytePtrFromString(params)
	if err != nil {
		return err
	}
	_, _, errno := syscall.Syscall(sysFinitModule, f.Fd(), uintptr(unsafe.Pointer(p)), 0)
	if errno != 0 && errno != syscall.EEXIST {
		return fmt.Errorf("finit_module: %w", errno)
	}
	return nil
}

// loopbackUp sets lo up: tests listen on 127.0.0.1 and a fresh kernel leaves lo down.
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var ifr struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(ifr.name[:], "lo")
	ifr.flags = syscall.IFF_UP | syscall.IFF_RUNNING
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return errno
	}
	return nil
}

func uptime() string {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0] + "s"
}

// sysFinitModule is finit_module's number on amd64 (the syscall package predates it).
const sysFinitModule = 313
