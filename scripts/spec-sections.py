# SPDX-License-Identifier: BSD-3-Clause
# Prints the section numbers of the VIRTIO specification sources, for citations.
# usage: spec-sections.py [SPEC_DIR]   (default ../shared/reference/virtio-spec)
import re,sys,os
base=sys.argv[1] if len(sys.argv)>1 else os.path.join(os.path.dirname(__file__),'..','..','shared','reference','virtio-spec')
levels=['chapter','section','subsection','subsubsection','paragraph','subparagraph']
cnt=[0]*6
out=[]
def proc(fn):
    global cnt
    try: txt=open(os.path.join(base,fn if fn.endswith('.tex') else fn+'.tex')).read()
    except Exception as e: return
    txt=re.sub(r'(?<!\\)%.*','',txt)
    pat=re.compile(r'\\input\{([^}]*)\}|\\(chapter|section|subsection|subsubsection|paragraph)\*?\{((?:[^{}]|\{[^{}]*\})*)\}|\\(drivernormative|devicenormative)\{\\(\w+)\}\{([^}]*)\}\{([^}]*)\}|\\appendix')
    for m in pat.finditer(txt):
        if m.group(0)=='\\appendix':
            cnt=[0]*6; cnt[0]=100; continue
        if m.group(1): proc(m.group(1)); continue
        if m.group(2): lv=levels.index(m.group(2)); title=m.group(3)
        else:
            lv=levels.index(m.group(5)); title=('Driver' if m.group(4)=='drivernormative' else 'Device')+' Requirements: '+m.group(6)
        cnt[lv]+=1
        for i in range(lv+1,6): cnt[i]=0
        num='.'.join(str(c) for c in cnt[:lv+1])
        out.append(f'{num}\t{title}')
proc('main.tex')
print('\n'.join(out))
