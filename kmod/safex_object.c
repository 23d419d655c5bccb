// SPDX-License-Identifier: GPL-2.0
/*
 * A signed object's contents, read and checked, relocated and mapped.
 *
 * The signature says `safexc sign` ran every check of the user-space
 * loader on these bytes (the TAL verified, the code is exactly what it
 * lowers to). What is checked here is what the module itself relies on,
 * so that a key holder's mistake (signing something else) is refused, not
 * an out-of-bounds access: the ELF shape of docs/object.md (an x86-64
 * relocatable object of codegen's sections and no other; .text the only
 * executable section; .rodata empty;
 * only R_X86_64_PLT32/PC32 relocations of .text, against function
 * symbols of .text, their fields inside .text, their results in i32 and
 * at a function's first byte), .safex.meta whole (its own digest, ABI,
 * flags, every field in bounds, the function table inside .text and in
 * order, every entry point's code starting with endbr64) and the digest of
 * .text. Anything else: ENOEXEC (not SafeX's shape, .safex.meta malformed
 * included), EPROTO (another ABI), EACCES (--no-fuel), E2BIG (past the
 * module's limits).
 *
 * W^X: the code is written into freshly allocated pages through their
 * direct-map alias (writable, never executable), then mapped once more
 * with vmap(PAGE_KERNEL_ROX) and NX cleared in those PTEs (vmap forces NX
 * on every mapping since 5.8; set_memory_x is not exported): no mapping is
 * ever writable and executable. Teardown unmaps, flushes the lazily purged
 * alias (vm_unmap_aliases) and frees the pages.
 */
#include <crypto/sha2.h>
#include <linux/elf.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <asm/pgtable.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

#include "safex_internal.h"

#define SAFEX_META_MAGIC "SXMETA\0\0"
#define SAFEX_META_HEADER 120u
#define SAFEX_META_NO_FUEL 1u
#define SAFEX_ENDBR64 0xfa1e0ff3u /* f3 0f 1e fa, little-endian */
#ifndef SHT_RELR
#define SHT_RELR 19
#endif

/* Whether [off, off + size) lies inside an object of len bytes. */
static bool in_bounds(u64 off, u64 size, u64 len)
{
	return off <= len && size <= len - off;
}

/* The sections the module uses. */
struct sx_sections {
	const Elf64_Shdr *text, *rela, *symtab, *meta;
	unsigned int text_index, symtab_index;
};

static bool section_named(const u8 *obj, const Elf64_Shdr *names, const Elf64_Shdr *sh, const char *name)
{
	size_t n = strlen(name) + 1;

	return sh->sh_name <= names->sh_size && names->sh_size - sh->sh_name >= n &&
	       memcmp(obj + names->sh_offset + sh->sh_name, name, n) == 0;
}

/* Finds and checks the sections (ENOEXEC for any other shape). */
static int find_sections(const u8 *obj, size_t len, struct sx_sections *s)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)obj;
	const Elf64_Shdr *sh, *names;
	unsigned int i;

	memset(s, 0, sizeof(*s));
	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_type != ET_REL || eh->e_machine != EM_X86_64 ||
	    eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shnum == 0 || eh->e_shstrndx >= eh->e_shnum ||
	    !in_bounds(eh->e_shoff, (u64)eh->e_shnum * sizeof(Elf64_Shdr), len) ||
	    eh->e_shoff % __alignof__(Elf64_Shdr) != 0)
		return -ENOEXEC;
	sh = (const Elf64_Shdr *)(obj + eh->e_shoff);
	names = &sh[eh->e_shstrndx];
	if (names->sh_type != SHT_STRTAB || !in_bounds(names->sh_offset, names->sh_size, len))
		return -ENOEXEC;
	for (i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *x = &sh[i];

		if (x->sh_type != SHT_NOBITS && x->sh_type != SHT_NULL && !in_bounds(x->sh_offset, x->sh_size, len))
			return -ENOEXEC;
		if (x->sh_type == SHT_REL || x->sh_type == SHT_RELR)
			return -ENOEXEC;
		if (section_named(obj, names, x, ".text")) {
			if (s->text || x->sh_type != SHT_PROGBITS || !(x->sh_flags & SHF_EXECINSTR))
				return -ENOEXEC;
			s->text = x;
			s->text_index = i;
		} else if (x->sh_flags & SHF_EXECINSTR) {
			return -ENOEXEC;
		} else if (section_named(obj, names, x, ".safex.meta")) {
			if (s->meta || x->sh_type != SHT_PROGBITS)
				return -ENOEXEC;
			s->meta = x;
		} else if (section_named(obj, names, x, ".rodata")) {
			if (x->sh_size != 0)
				return -ENOEXEC;
		} else if (section_named(obj, names, x, ".rela.text")) {
			if (s->rela || x->sh_type != SHT_RELA)
				return -ENOEXEC;
			s->rela = x;
		} else if (section_named(obj, names, x, ".symtab")) {
			if (s->symtab || x->sh_type != SHT_SYMTAB)
				return -ENOEXEC;
			s->symtab = x;
			s->symtab_index = i;
		} else if (!(i == 0 && x->sh_type == SHT_NULL) && !section_named(obj, names, x, ".safex.tal") &&
			   !section_named(obj, names, x, ".note.GNU-stack") && !section_named(obj, names, x, ".strtab") &&
			   !section_named(obj, names, x, ".shstrtab")) {
			/* Codegen emits these sections and no other. */
			return -ENOEXEC;
		}
	}
	if (!s->text || !s->meta)
		return -ENOEXEC;
	if (s->rela && (!s->symtab || s->rela->sh_info != s->text_index || s->rela->sh_link != s->symtab_index ||
			s->rela->sh_entsize != sizeof(Elf64_Rela) || s->rela->sh_size % sizeof(Elf64_Rela) != 0 ||
			s->rela->sh_offset % __alignof__(Elf64_Rela) != 0))
		return -ENOEXEC;
	if (s->symtab && (s->symtab->sh_entsize != sizeof(Elf64_Sym) || s->symtab->sh_size % sizeof(Elf64_Sym) != 0 ||
			  s->symtab->sh_offset % __alignof__(Elf64_Sym) != 0))
		return -ENOEXEC;
	if (s->text->sh_size == 0)
		return -ENOEXEC;
	if (s->text->sh_size > SAFEX_MAX_TEXT)
		return -E2BIG;
	return 0;
}

/* A bounds-checked little-endian reader of .safex.meta. */
struct sx_cursor {
	const u8 *p;
	size_t left;
	bool bad;
};

static const u8 *take(struct sx_cursor *c, size_t n)
{
	const u8 *at = c->p;

	if (c->bad || n > c->left) {
		c->bad = true;
		return NULL;
	}
	c->p += n;
	c->left -= n;
	return at;
}

static u8 get_u8(struct sx_cursor *c)
{
	const u8 *p = take(c, 1);

	return p ? *p : 0;
}

static u16 get_u16(struct sx_cursor *c)
{
	const u8 *p = take(c, 2);

	return p ? get_unaligned_le16(p) : 0;
}

static u32 get_u32(struct sx_cursor *c)
{
	const u8 *p = take(c, 4);

	return p ? get_unaligned_le32(p) : 0;
}

static u64 get_u64(struct sx_cursor *c)
{
	const u8 *p = take(c, 8);

	return p ? get_unaligned_le64(p) : 0;
}

/* A `str`: its bytes and length (not NUL-terminated). */
static const char *get_str(struct sx_cursor *c, u32 *len)
{
	*len = get_u32(c);
	return (const char *)take(c, *len);
}

/* Copies a `str` into a NUL-terminated field; false if it does not fit. */
static bool get_name(struct sx_cursor *c, char *out, size_t size)
{
	u32 len;
	const char *s = get_str(c, &len);

	if (!s || len >= size || memchr(s, 0, len))
		return false;
	memcpy(out, s, len);
	out[len] = 0;
	return true;
}

/* Whether the module class declared at the cursor equals host class `class`. */
static bool class_matches(struct sx_cursor *c, u32 class)
{
	const struct safex_class_def *def = &safex_classes[class];
	u32 n = get_u32(c), i;
	bool same = n == def->attrs;

	for (i = 0; i < n && !c->bad; i++) {
		const struct safex_attr_def *a = &safex_attrs[def->first + (i < def->attrs ? i : 0)];
		u32 len;
		const char *name = get_str(c, &len);
		u8 type = get_u8(c), flags = get_u8(c);
		u16 reserved = get_u16(c);
		s64 lo = (s64)get_u64(c), hi = (s64)get_u64(c);

		if (reserved != 0)
			c->bad = true;
		same = same && i < def->attrs && name && len == strlen(a->name) && memcmp(name, a->name, len) == 0 &&
		       type == a->type && flags == a->flags && lo == a->lo && hi == a->hi;
	}
	return same;
}

/* The host class named s[0..len), or SAFEX_CLASS_COUNT. */
static u32 class_by_name(const char *s, u32 len)
{
	u32 i;

	for (i = 0; i < SAFEX_CLASS_COUNT; i++)
		if (strlen(safex_classes[i].name) == len && memcmp(safex_classes[i].name, s, len) == 0)
			return i;
	return SAFEX_CLASS_COUNT;
}

/* The flat index of host attribute `attr` of `class`, or SAFEX_ATTR_COUNT. */
static u32 attr_by_name(u32 class, const char *s, u32 len)
{
	const struct safex_class_def *def = &safex_classes[class];
	u32 i;

	for (i = 0; i < def->attrs; i++) {
		const char *name = safex_attrs[def->first + i].name;

		if (strlen(name) == len && memcmp(name, s, len) == 0)
			return def->first + i;
	}
	return SAFEX_ATTR_COUNT;
}

/* The parts of .safex.meta the loader uses. */
struct sx_meta {
	u64 budget;
	const u8 *text_sha256;
	u32 n_functions;
	const u8 *functions; /* n_functions × (u32 offset, u32 size) */
	u64 data_cells;
	u32 n_init;
	const u8 *init;      /* n_init × (u64 offset, i64 value) */
};

/*
 * Reads .safex.meta into `ext` (name, entry points, classes, events) and
 * `m`. The entries' targets are resolved against the host's classes and
 * events: ENOENT for a class or attribute the module does not have,
 * EINVAL for a class declared otherwise than the module's.
 */
static int read_meta(const u8 *meta, size_t len, struct sx_ext *ext, struct sx_meta *m)
{
	struct sx_cursor c = { .p = meta, .left = len };
	u8 digest[SHA256_DIGEST_SIZE];
	u32 n, i, flags, skip;
	int err = 0;

	if (len < SAFEX_META_HEADER + SHA256_DIGEST_SIZE || memcmp(meta, SAFEX_META_MAGIC, 8) != 0)
		return -ENOEXEC;
	sha256(meta, len - SHA256_DIGEST_SIZE, digest);
	if (memcmp(digest, meta + len - SHA256_DIGEST_SIZE, SHA256_DIGEST_SIZE) != 0)
		return -ENOEXEC;
	c.left -= SHA256_DIGEST_SIZE;
	take(&c, 8);
	if (get_u32(&c) != SAFEX_ABI_VERSION)
		return -EPROTO;
	flags = get_u32(&c);
	if (flags & ~SAFEX_META_NO_FUEL)
		return -ENOEXEC;
	if (flags & SAFEX_META_NO_FUEL)
		return -EACCES;
	m->budget = get_u64(&c);
	take(&c, 32); /* .safex.tal: the signature covers it; the module does not read the TAL */
	m->text_sha256 = take(&c, 32);
	take(&c, 32); /* relocations: checked one by one when applied */
	get_str(&c, &skip); /* the compiler: the signature vouches for it */
	if (!get_name(&c, ext->name, sizeof(ext->name)))
		return c.bad ? -ENOEXEC : -E2BIG;

	n = get_u32(&c);
	if (n > SAFEX_MAX_ENTRIES)
		return -E2BIG;
	ext->n_entries = n;
	for (i = 0; i < n && !c.bad; i++) {
		struct sx_entry *e = &ext->entry[i];
		const char *cls, *a, *b;
		u32 cls_len, a_len, b_len;

		e->func = get_u32(&c);
		e->kind = get_u8(&c);
		e->rights = get_u8(&c);
		if (get_u16(&c) != 0 || e->kind > SAFEX_ENTRY_GUARD || e->rights > 7)
			return -ENOEXEC;
		e->entry_fuel = get_u64(&c);
		if (!get_name(&c, e->name, sizeof(e->name)))
			return c.bad ? -ENOEXEC : -E2BIG;
		cls = get_str(&c, &cls_len);
		a = get_str(&c, &a_len);
		b = get_str(&c, &b_len);
		if (c.bad)
			break;
		/* Every entry point's capability is of a class the module has. */
		e->host_class = class_by_name(cls, cls_len);
		if (e->host_class == SAFEX_CLASS_COUNT)
			err = err ?: -ENOENT;
		if (e->kind == SAFEX_ENTRY_HANDLER) {
			if (a_len >= SAFEX_NAME_MAX)
				return -E2BIG;
			memcpy(e->target, a, a_len);
			e->event = safex_event_intern(a, a_len);
			if (e->event == SAFEX_MAX_EVENTS)
				err = err ?: -ENOSPC;
		} else if (e->kind == SAFEX_ENTRY_GUARD) {
			u32 class = class_by_name(a, a_len);

			e->attr = class == SAFEX_CLASS_COUNT ? SAFEX_ATTR_COUNT : attr_by_name(class, b, b_len);
			if (e->attr == SAFEX_ATTR_COUNT)
				err = err ?: -ENOENT;
			else
				snprintf(e->target, sizeof(e->target), "%s.%s", safex_classes[class].name,
					 safex_attrs[e->attr].name);
		}
	}

	n = get_u32(&c);
	if (n > SAFEX_MAX_MODULE_CLASSES)
		return -E2BIG;
	ext->n_classes = n;
	for (i = 0; i < n && !c.bad; i++) {
		u32 len;
		const char *name = get_str(&c, &len);
		u32 class = name ? class_by_name(name, len) : SAFEX_CLASS_COUNT;

		if (class == SAFEX_CLASS_COUNT) {
			err = err ?: -ENOENT;
			class = 0;
		}
		ext->class_map[i] = class;
		if (!class_matches(&c, class))
			err = err ?: -EINVAL;
	}

	m->n_functions = get_u32(&c);
	if (m->n_functions > SAFEX_MAX_FUNCTIONS)
		return -E2BIG;
	m->functions = take(&c, (size_t)m->n_functions * 8);

	n = get_u32(&c);
	if (n > SAFEX_MAX_MODULE_EVENTS)
		return -E2BIG;
	ext->n_events = n;
	for (i = 0; i < n && !c.bad; i++) {
		u32 len;
		const char *name = get_str(&c, &len);

		if (!name)
			break;
		if (len >= SAFEX_NAME_MAX)
			return -E2BIG;
		ext->event_map[i] = safex_event_intern(name, len);
		if (ext->event_map[i] == SAFEX_MAX_EVENTS)
			err = err ?: -ENOSPC;
	}

	m->data_cells = get_u64(&c);
	m->n_init = get_u32(&c);
	if (m->data_cells > SAFEX_MAX_DATA_CELLS || m->n_init > m->data_cells)
		return c.bad ? -ENOEXEC : -E2BIG;
	m->init = take(&c, (size_t)m->n_init * 16);
	if (c.bad || c.left != 0)
		return -ENOEXEC;
	/* Entry points name functions of the table, and their classes are the module's. */
	for (i = 0; i < ext->n_entries; i++) {
		struct sx_entry *e = &ext->entry[i];
		u32 k;

		if (e->func >= m->n_functions)
			return -ENOEXEC;
		for (k = 0; k < ext->n_classes && ext->class_map[k] != e->host_class; k++)
			;
		if (!err && k == ext->n_classes)
			return -ENOEXEC;
	}
	return err;
}

/* The function starting at `offset`, by binary search; n_functions if none. */
static u32 function_at(const struct sx_meta *m, u64 offset)
{
	u32 lo = 0, hi = m->n_functions;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		u32 at = get_unaligned_le32(m->functions + (size_t)mid * 8);

		if (at == offset)
			return mid;
		if (at < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return m->n_functions;
}

/*
 * Checks the function table against .text (in order, inside it) and
 * applies the relocations to `text`, the module's copy of .text.
 */
static int relocate(const u8 *obj, const struct sx_sections *s, const struct sx_meta *m, u8 *text)
{
	u64 size = s->text->sh_size, end = 0;
	const Elf64_Rela *rela;
	const Elf64_Sym *syms;
	size_t n, nsyms, i;

	for (i = 0; i < m->n_functions; i++) {
		u32 off = get_unaligned_le32(m->functions + i * 8);
		u32 len = get_unaligned_le32(m->functions + i * 8 + 4);

		if (off < end || !in_bounds(off, len, size) || len < 4)
			return -ENOEXEC;
		end = (u64)off + len;
	}
	if (!s->rela)
		return 0;
	rela = (const Elf64_Rela *)(obj + s->rela->sh_offset);
	n = s->rela->sh_size / sizeof(*rela);
	syms = (const Elf64_Sym *)(obj + s->symtab->sh_offset);
	nsyms = s->symtab->sh_size / sizeof(*syms);
	for (i = 0; i < n; i++) {
		u32 type = ELF64_R_TYPE(rela[i].r_info);
		u64 sym = ELF64_R_SYM(rela[i].r_info);
		s64 value;

		if (type != R_X86_64_PLT32 && type != R_X86_64_PC32)
			return -ENOEXEC;
		if (sym == 0 || sym >= nsyms || ELF64_ST_TYPE(syms[sym].st_info) != STT_FUNC ||
		    syms[sym].st_shndx != s->text_index || function_at(m, syms[sym].st_value) == m->n_functions)
			return -ENOEXEC;
		if (!in_bounds(rela[i].r_offset, 4, size))
			return -ENOEXEC;
		/* S + A - P, with .text's base cancelling out. */
		value = (s64)syms[sym].st_value + rela[i].r_addend - (s64)rela[i].r_offset;
		if (value < S32_MIN || value > S32_MAX)
			return -ENOEXEC;
		/* The call's target, the end of its 4-byte field plus the value: a function's first byte. */
		if (function_at(m, rela[i].r_offset + 4 + value) == m->n_functions)
			return -ENOEXEC;
		put_unaligned_le32((u32)(s32)value, text + rela[i].r_offset);
	}
	return 0;
}

static void safex_code_free(struct sx_code *code)
{
	unsigned int i;

	if (code->exec) {
		vunmap(code->exec);
		/* vunmap purges lazily: flush now, so no executable alias outlives the pages. */
		vm_unmap_aliases();
		code->exec = NULL;
	}
	for (i = 0; i < code->npages; i++)
		if (code->pages[i])
			__free_page(code->pages[i]);
	kvfree(code->pages);
	code->pages = NULL;
	code->npages = 0;
}

/* Clears NX in the 4 KiB PTEs of the read-only vmap alias at va. */
static int make_executable(void *va, unsigned int npages)
{
	unsigned int i, level;

	for (i = 0; i < npages; i++) {
		pte_t *pte = lookup_address((unsigned long)va + i * PAGE_SIZE, &level);

		if (!pte || level != PG_LEVEL_4K || !pte_present(*pte) || pte_write(*pte))
			return -EFAULT;
		set_pte(pte, pte_clear_flags(*pte, _PAGE_NX));
	}
	return 0;
}

/* Maps text[0..len) W^X: written through the direct map, executed through a read-only alias. */
static int map_code(const u8 *text, size_t len, struct sx_code *code)
{
	unsigned int i;
	int err;

	code->npages = DIV_ROUND_UP(len, PAGE_SIZE);
	code->pages = kvcalloc(code->npages, sizeof(*code->pages), GFP_KERNEL);
	if (!code->pages) {
		code->npages = 0;
		return -ENOMEM;
	}
	for (i = 0; i < code->npages; i++) {
		size_t off = (size_t)i * PAGE_SIZE;
		u8 *va;

		code->pages[i] = alloc_page(GFP_KERNEL);
		if (!code->pages[i]) {
			safex_code_free(code);
			return -ENOMEM;
		}
		va = page_address(code->pages[i]);
		memset(va, 0xcc, PAGE_SIZE); /* int3 past the code */
		memcpy(va, text + off, min_t(size_t, len - off, PAGE_SIZE));
	}
	code->exec = vmap(code->pages, code->npages, VM_MAP, PAGE_KERNEL_ROX);
	if (!code->exec) {
		safex_code_free(code);
		return -ENOMEM;
	}
	/*
	 * A fresh range no one has executed from, so no TLB holds it with NX;
	 * an NX-to-X change is also one the x86 fault handler treats as
	 * spurious.
	 */
	err = make_executable(code->exec, code->npages);
	if (err)
		safex_code_free(code);
	return err;
}

void safex_ext_free(struct sx_ext *ext)
{
	if (!ext)
		return;
	safex_code_free(&ext->code);
	kvfree(ext->data);
	kfree(ext);
}

/*
 * Reads a signed object's object part into a new extension, not yet bound
 * to an application: code mapped and entry points resolved, data region
 * initialized, fuel per invocation from its budget. Caller holds
 * safex_lock (events are interned).
 */
int safex_object_load(const u8 *obj, size_t len, struct sx_ext **out)
{
	u8 digest[SHA256_DIGEST_SIZE];
	struct sx_sections s;
	struct sx_meta m = {};
	struct sx_ext *ext;
	u8 *text = NULL;
	u32 i;
	int err;

	*out = NULL;
	err = find_sections(obj, len, &s);
	if (err)
		return err;
	ext = kzalloc(sizeof(*ext), GFP_KERNEL);
	if (!ext)
		return -ENOMEM;
	err = read_meta(obj + s.meta->sh_offset, s.meta->sh_size, ext, &m);
	if (err)
		goto fail;
	sha256(obj + s.text->sh_offset, s.text->sh_size, digest);
	err = -ENOEXEC;
	if (memcmp(digest, m.text_sha256, SHA256_DIGEST_SIZE) != 0)
		goto fail;
	err = -E2BIG;
	if (m.budget > safex_max_fuel)
		goto fail;
	ext->fuel = m.budget ? m.budget : safex_default_fuel;
	err = -ENOMEM;
	text = kvmalloc(s.text->sh_size, GFP_KERNEL);
	if (!text)
		goto fail;
	memcpy(text, obj + s.text->sh_offset, s.text->sh_size);
	err = relocate(obj, &s, &m, text);
	/* Every entry point starts with endbr64, for IBT kernels' indirect calls. */
	for (i = 0; !err && i < ext->n_entries; i++) {
		u32 off = get_unaligned_le32(m.functions + (size_t)ext->entry[i].func * 8);

		if (get_unaligned_le32(text + off) != SAFEX_ENDBR64)
			err = -ENOEXEC;
	}
	if (!err)
		err = map_code(text, s.text->sh_size, &ext->code);
	if (err)
		goto fail;
	for (i = 0; i < ext->n_entries; i++) {
		u32 off = get_unaligned_le32(m.functions + (size_t)ext->entry[i].func * 8);

		ext->entry[i].code = (safex_entry_fn)((u8 *)ext->code.exec + off);
	}
	err = -ENOMEM;
	ext->data_cells = m.data_cells;
	ext->data = kvcalloc(max_t(u64, m.data_cells, 1), sizeof(s64), GFP_KERNEL);
	if (!ext->data)
		goto fail;
	for (i = 0; i < m.n_init; i++) {
		u64 cell = get_unaligned_le64(m.init + (size_t)i * 16);

		err = -ENOEXEC;
		if (cell >= m.data_cells)
			goto fail;
		ext->data[cell] = (s64)get_unaligned_le64(m.init + (size_t)i * 16 + 8);
	}
	kvfree(text);
	*out = ext;
	return 0;
fail:
	kvfree(text);
	safex_ext_free(ext);
	return err;
}
